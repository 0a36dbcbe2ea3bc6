import { isLid } from './engines.ts';
import type { SimMessage, WahaSimState } from './session-state.ts';

/** `/_sim/chats`: the chats as the buyers see them, in Russian, self-contained (no external assets). */

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] ?? ch);
}

const TICKS: Record<string, { mark: string; label: string; cls: string }> = {
  '-1': { mark: '⚠', label: 'Ошибка', cls: 'err' },
  '0': { mark: '🕓', label: 'Ожидает отправки', cls: 'pending' },
  '1': { mark: '✓', label: 'Отправлено', cls: 'sent' },
  '2': { mark: '✓✓', label: 'Доставлено', cls: 'delivered' },
  '3': { mark: '✓✓', label: 'Прочитано', cls: 'read' },
  '4': { mark: '✓✓', label: 'Прослушано', cls: 'read' },
};

function chatTitle(state: WahaSimState, chatId: string): string {
  const user = escapeHtml(chatId.split('@')[0] ?? chatId);
  if (!isLid(chatId)) {
    const lid = state.lidOfPhone(chatId);
    return `Чат с +${user}${lid ? ` <small>(LID ${escapeHtml(lid.lid)})</small>` : ''}`;
  }
  const entry = state.lidInfo(chatId);
  return `Чат с LID ${escapeHtml(chatId)} <small>(${entry ? `номер +${escapeHtml(entry.phone)}` : 'номер неизвестен'})</small>`;
}

/** A file as WhatsApp shows it above its caption: the picture itself, or a document card. */
function mediaBlock(m: SimMessage): string {
  if (!m.media) return '';
  const src = `/_sim/media/${encodeURIComponent(m.session)}/${encodeURIComponent(m.id)}`;
  if (m.media.kind === 'image') return `<img class="media" src="${src}" alt="Картинка ${escapeHtml(m.media.filename ?? '')}">`;
  const kb = Math.max(1, Math.round(m.media.size / 1024));
  const type = escapeHtml((m.media.mimetype.split('/')[1] ?? 'file').toUpperCase());
  return `<a class="doc" href="${src}"><span class="doc-icon">${type}</span><span><b>${escapeHtml(m.media.filename ?? 'Документ')}</b><br><small>${type} · ${kb} КБ</small></span></a>`;
}

export function chatsPage(state: WahaSimState): string {
  const time = (sec: number) => new Date(sec * 1000).toLocaleString('ru-RU', { timeZone: 'Asia/Almaty', hour: '2-digit', minute: '2-digit', day: '2-digit', month: '2-digit' });
  const sessions = state.sessionsList().map((s) => {
    const stalled = state.session(s.name)?.acksStalled ? ' — <b>квитанции не приходят</b>' : '';
    return `<li>Сессия <b>${escapeHtml(s.name)}</b>: ${escapeHtml(s.status)}${stalled}${
      s.status === 'SCAN_QR_CODE'
        ? ` <form method="post" action="/_sim/sessions/${encodeURIComponent(s.name)}/scan?redirect=1"><button>Отсканировать QR (симуляция)</button></form>`
        : ''}</li>`;
  }).join('');
  const chats = state.allChats().map(({ session, chatId, messages }) => {
    const bubbles = messages.map((m) => {
      const tick = m.fromMe ? TICKS[String(m.ack)] : undefined;
      const kind = m.media ? ` data-media="${m.media.kind}"` : '';
      return `<div class="msg ${m.fromMe ? 'out' : 'in'}" data-id="${escapeHtml(m.id)}"${kind}>${mediaBlock(m)}${m.body ? `<div class="text">${escapeHtml(m.body)}</div>` : ''}<div class="meta">${time(m.timestamp)}${
        tick ? ` <span class="tick ${tick.cls}" title="${tick.label}">${tick.mark}</span>` : ''}</div></div>`;
    }).join('');
    return `<section class="chat"><h2>${chatTitle(state, chatId)} <small>(сессия ${escapeHtml(session)})</small></h2>${bubbles}</section>`;
  }).join('');
  const lids = state.allLids().map((l) => `<li>${escapeHtml(l.lid)} → +${escapeHtml(l.phone)}${l.pnByLid ? '' : ' (WAHA не знает номер)'}</li>`).join('');
  return `<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>WAHA-симулятор — чаты</title>
<style>
body{font-family:system-ui,sans-serif;background:#efeae2;margin:0;padding:1rem}
h1{font-size:1.2rem} h2{font-size:1rem;margin:.5rem 0} form{display:inline}
.chat{background:#fff8;border-radius:8px;padding:.5rem 1rem;margin-bottom:1rem;max-width:40rem;display:flex;flex-direction:column}
.msg{max-width:80%;padding:.4rem .6rem;border-radius:8px;margin:.2rem 0;box-shadow:0 1px 1px #0002}
.out{align-self:flex-end;background:#d9fdd3}.in{align-self:flex-start;background:#fff}
.text{white-space:pre-wrap}.meta{font-size:.75rem;color:#667;text-align:right}
.tick.read{color:#53bdeb}.tick.err{color:#d33}
.media{display:block;max-width:100%;max-height:320px;border-radius:6px;margin-bottom:.3rem}
.doc{display:flex;gap:.5rem;align-items:center;background:#0000000d;border-radius:6px;padding:.5rem;margin-bottom:.3rem;color:inherit;text-decoration:none}
.doc-icon{background:#e53935;color:#fff;font-size:.7rem;font-weight:700;border-radius:4px;padding:.6rem .35rem}
</style></head><body>
<h1>WAHA-симулятор (${escapeHtml(state.engine)}) — чаты глазами покупателя</h1>
<ul>${sessions}</ul>
${lids ? `<h2>Скрытые номера (LID)</h2><ul>${lids}</ul>` : ''}
${chats || '<p>Сообщений пока нет.</p>'}
</body></html>`;
}
