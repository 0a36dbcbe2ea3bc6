import { crc32, deflateSync } from 'node:zlib';
import { eq } from 'drizzle-orm';
import { templateAttachments } from '../../drizzle/schema.ts';
import type { AppContext } from '../../lib/context.ts';
import { checkAttachment } from '../../lib/templates/attachments.ts';

/**
 * Real files for the attachment tests, made here so no binary fixture has to be trusted: a PNG any
 * browser draws, a one-page PDF, the first bytes of a JPEG and of a GIF (enough for a type check).
 */

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A width × height RGB PNG: a diagonal gradient from `from` to `to`, so a screenshot shows it is drawn. */
export function makePng(width = 240, height = 140, from: [number, number, number] = [0x07, 0x5e, 0x54], to: [number, number, number] = [0xf2, 0xc1, 0x4e]): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const t = (x / Math.max(1, width - 1) + y / Math.max(1, height - 1)) / 2;
      for (let c = 0; c < 3; c++) raw[row + 1 + x * 3 + c] = Math.round(from[c]! + (to[c]! - from[c]!) * t);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/** A valid one-page PDF saying `text` (ASCII). */
export function makePdf(text = 'Warranty card'): Buffer {
  const stream = `BT /F1 24 Tf 72 720 Td (${text.replace(/[()\\]/g, '')}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(Buffer.byteLength(out));
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out);
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

/** The start of a JFIF JPEG: what a type check reads. */
export function jpegHeader(): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]), Buffer.alloc(64, 0x11)]);
}

/** A GIF header: an image, but not one WhatsApp takes as a photo here. */
export function gifHeader(): Buffer {
  return Buffer.concat([Buffer.from('GIF89a', 'ascii'), Buffer.from([1, 0, 1, 0, 0x80, 0, 0]), Buffer.alloc(32, 0)]);
}

/** Gives a template its file the way the editor does: checked, then stored (tests only; no audit). */
export async function attachToTemplate(db: AppContext['db'], templateId: string, bytes: Buffer, filename: string) {
  const checked = await checkAttachment({ bytes, filename });
  if (!checked.ok) throw new Error(`test file refused: ${checked.problem.code}`);
  const a = checked.attachment;
  await db.delete(templateAttachments).where(eq(templateAttachments.templateId, templateId));
  const [row] = await db.insert(templateAttachments).values({ templateId, kind: a.kind, mimetype: a.mimetype, filename: a.filename, sizeBytes: a.sizeBytes, sha256: a.sha256, content: a.content }).returning({ id: templateAttachments.id });
  return { ...a, id: row!.id };
}
