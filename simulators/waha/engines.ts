import { randomBytes, randomInt } from 'node:crypto';

/**
 * Per-engine wire shapes: message ids, the 201 bodies of a send, WAMessage payloads (events and
 * look-ups) with each engine's own `_data`, session `engine`/`me` blocks, and WAHA's error bodies.
 * Nothing here holds state.
 */

export type SimEngine = 'WEBJS' | 'NOWEB' | 'GOWS';

export const WAHA_VERSION = '2026.7.1';

// src/structures/enums.dto.ts (WAMessageAck): −1 ERROR … 4 PLAYED.
export const ACK_NAMES: Readonly<Record<number, string>> = {
  [-1]: 'ERROR', 0: 'PENDING', 1: 'SERVER', 2: 'DEVICE', 3: 'READ', 4: 'PLAYED',
};

export function ackName(ack: number): string {
  // src/structures/enums.dto.ts: ACK_UNKNOWN for anything outside the enum.
  return ACK_NAMES[ack] ?? 'UNKNOWN';
}

function hexId(bytes: number): string {
  return randomBytes(bytes).toString('hex').toUpperCase();
}

/** WhatsApp key ids look different per engine; tests that eyeball them should see the real forms. */
export function newKeyId(engine: SimEngine): string {
  switch (engine) {
    case 'WEBJS': return `3EB0${hexId(8)}`;
    case 'NOWEB': return `BAE5${hexId(6)}`;
    case 'GOWS': return `3EB0${hexId(9)}`;
  }
}

/** A linked id as WhatsApp hands them out: 15 digits, `@lid`. */
export function newLid(): string {
  let digits = String(randomInt(1, 10));
  while (digits.length < 15) digits += String(randomInt(0, 10));
  return `${digits}@lid`;
}

export function digitsOf(s: string): string {
  return s.replace(/\D/g, '');
}

export function isLid(jid: string): boolean {
  // src/core/utils/jids.ts (isLidUser): a LID is anything ending in @lid.
  return jid.endsWith('@lid');
}

/** `77011234567@s.whatsapp.net` and `+7 701 …` → `77011234567@c.us`; `@lid` stays as it is. */
export function toChatId(s: string): string {
  if (s.includes('@')) {
    const [user = '', server = ''] = s.split('@');
    return `${user}@${server === 's.whatsapp.net' ? 'c.us' : server}`;
  }
  return `${digitsOf(s)}@c.us`;
}

/** NOWEB/GOWS speak JIDs: `…@c.us` → `…@s.whatsapp.net`; LIDs and groups stay (src/core/utils/jids.ts toJID). */
export function toJid(chatId: string): string {
  return chatId.endsWith('@c.us') ? chatId.replace(/@c\.us$/, '@s.whatsapp.net') : chatId;
}

// ---- error bodies --------------------------------------------------------------------------------

export function badRequest(message: string | string[]) {
  return { statusCode: 400, message, error: 'Bad Request' };
}

/**
 * src/core/engines/noweb/store/NowebInMemoryStore.ts: without `config.noweb.store.enabled` every
 * chat/message/LID read throws this BadRequestException; Nest answers `{message, error, statusCode}`.
 */
export const NOWEB_STORE_ERROR =
  'Enable NOWEB store "config.noweb.store.enabled=True" and "config.noweb.store.full_sync=True" when starting a new session. ' +
  'Read more: https://waha.devlike.pro/docs/engines/noweb#store';

export function nowebStoreDisabled() {
  return { message: NOWEB_STORE_ERROR, error: 'Bad Request', statusCode: 400 };
}

/** src/core/exceptions.ts (NotImplementedByEngineError, a NotImplementedException → 501). */
export function notImplementedByEngine(engine: SimEngine) {
  return {
    message: `The method is not implemented by '${engine}' engine. Check the docs and try another engine: https://waha.devlike.pro/`,
    error: 'Not Implemented',
    statusCode: 501,
  };
}

/**
 * src/core/exceptions.ts (AvailableInPlusVersion, an UnprocessableEntityException → 422): what a
 * WAHA Core build before 2026.6.1 answers to sendImage/sendFile/sendVoice/sendVideo on every engine
 * (the engines' `sendImage() { throw new AvailableInPlusVersion(); }`); the message names the engine
 * (devlikeapro/waha#1580 quotes it for NOWEB).
 */
export function availableInPlusOnly(engine: SimEngine) {
  return {
    message: `The feature is available only in Plus version for '${engine}' engine. Check this out: https://waha.devlike.pro/`,
    error: 'Unprocessable Entity',
    statusCode: 422,
  };
}

/** src/api/lids.controller.ts (findPNByLid): UnprocessableEntityException for a non-LID. */
export function invalidLid() {
  return { message: 'Invalid LID - it must end with @lid', error: 'Unprocessable Entity', statusCode: 422 };
}

// ---- payloads ------------------------------------------------------------------------------------

export interface SimMe {
  id: string;
  pushName: string;
  /** The account's own LID; NOWEB and GOWS report it in `me` (MeInfo in the OpenAPI). */
  lid?: string;
}

/** What an engine needs to render one message. */
export interface MessageView {
  id: string;
  keyId: string;
  /** `77011234567@c.us`, or `245896994390182@lid` for a buyer who writes from a LID. */
  chatId: string;
  fromMe: boolean;
  body: string;
  /** Unix seconds, as WhatsApp reports it. */
  timestamp: number;
  ack: number;
  source: 'api' | 'app';
  /** A picture or a document; `body` is then its caption. */
  media?: SimMedia | null;
}

/** What a media message carries besides its caption; the bytes stay in the state (`mediaBytes`). */
export interface SimMedia {
  kind: 'image' | 'document';
  mimetype: string;
  filename: string | null;
  size: number;
  sha256: string;
}

export interface RenderOptions {
  /** Events carry `source` for fromMe messages; the store does not know who sent it. */
  event: boolean;
  /**
   * NOWEB's alternate address of the chat (Baileys `key.remoteJidAlt`): the phone JID for a LID
   * chat, the LID for a phone chat. Null when WhatsApp did not send it.
   */
  remoteJidAlt?: string | null;
  pushName?: string;
  /** Where WAHA serves the downloaded file (`media.url`, events only): `${base}/api/files/…`. */
  mediaBaseUrl?: string;
}

/** The engine library's own message content for a caption + file (Baileys / whatsmeow proto). */
function protoContent(m: MessageView): Record<string, unknown> {
  if (!m.media) return { extendedTextMessage: { text: m.body } };
  const common = { mimetype: m.media.mimetype, caption: m.body, fileLength: String(m.media.size), fileSha256: Buffer.from(m.media.sha256, 'hex').toString('base64') };
  return m.media.kind === 'image'
    ? { imageMessage: { url: `https://mmg.whatsapp.net/o1/v/t62.7118-24/${m.keyId}`, ...common } }
    : { documentMessage: { url: `https://mmg.whatsapp.net/o1/v/t62.7119-24/${m.keyId}`, ...common, fileName: m.media.filename ?? '' } };
}

/** whatsapp-web.js Message.type: `chat`, or `image` / `document` for a file. */
function webjsType(m: MessageView): string {
  return m.media ? m.media.kind : 'chat';
}

/** The engine's `_data` for a message, as its library hands it to WAHA. */
function engineData(engine: SimEngine, me: SimMe, m: MessageView, opts: RenderOptions): Record<string, unknown> {
  const from = m.fromMe ? me.id : m.chatId;
  const to = m.fromMe ? m.chatId : me.id;
  switch (engine) {
    case 'WEBJS':
      // whatsapp-web.js Message._data: the id object and wid strings; a LID chat shows only the LID.
      return {
        id: { fromMe: m.fromMe, remote: m.chatId, id: m.keyId, _serialized: m.id },
        body: m.body, type: webjsType(m), t: m.timestamp, from, to, ack: m.ack,
        ...(m.media ? { caption: m.body, mimetype: m.media.mimetype, filename: m.media.filename ?? undefined, size: m.media.size } : {}),
        ...(m.fromMe ? {} : { notifyName: opts.pushName ?? '' }),
      };
    case 'NOWEB': {
      // src/core/engines/noweb/session.noweb.core.ts (toWAMessage): `_data` is Baileys' WebMessageInfo.
      const key: Record<string, unknown> = { remoteJid: toJid(m.chatId), fromMe: m.fromMe, id: m.keyId };
      if (opts.remoteJidAlt) {
        key.remoteJidAlt = opts.remoteJidAlt;
        // Older Baileys builds put the phone in `senderPn` instead.
        if (!m.fromMe && isLid(m.chatId)) key.senderPn = opts.remoteJidAlt;
      }
      return {
        key,
        messageTimestamp: m.timestamp,
        ...(m.fromMe ? {} : { pushName: opts.pushName ?? '' }),
        message: protoContent(m),
        status: m.fromMe ? Math.max(0, m.ack) + 1 : 3,
      };
    }
    case 'GOWS':
      // whatsmeow events.Message: Info (MessageInfo) + Message (waE2E.Message).
      return {
        Info: {
          ID: m.keyId, Chat: toJid(m.chatId), Sender: toJid(m.fromMe ? me.id : m.chatId), IsFromMe: m.fromMe, IsGroup: false,
          Timestamp: new Date(m.timestamp * 1000).toISOString(), PushName: m.fromMe ? me.pushName : (opts.pushName ?? ''),
        },
        Message: m.media ? protoContent(m) : { conversation: m.body },
      };
  }
}

/** A message as WAHA's WAMessage (webhook payloads, look-ups, listings). */
export function waMessage(engine: SimEngine, me: SimMe, m: MessageView, opts: RenderOptions): Record<string, unknown> {
  return {
    id: m.id,
    timestamp: m.timestamp,
    from: m.fromMe ? me.id : m.chatId,
    fromMe: m.fromMe,
    // WAMessage.source (OpenAPI): "Available in events only and only fromMe: true messages".
    ...(m.fromMe && opts.event ? { source: m.source } : {}),
    to: m.fromMe ? m.chatId : me.id,
    // The caption for a file (NOWEB extractBody falls back to the media's caption; WEBJS and GOWS alike).
    body: m.body,
    hasMedia: Boolean(m.media),
    // Events download the file and point at WAHA's copy (WAMessage.media); look-ups here never ask for it.
    ...(m.media && opts.event && opts.mediaBaseUrl ? { media: { url: `${opts.mediaBaseUrl}/api/files/${mediaFileName(m)}`, mimetype: m.media.mimetype, ...(m.media.filename ? { filename: m.media.filename } : {}) } } : {}),
    ack: m.ack,
    ackName: ackName(m.ack),
    _data: engineData(engine, me, m, opts),
  };
}

/** The engine's own 201 body for a sent message (the OpenAPI shows one WAMessage; the engines differ). */
export function sendResponse(engine: SimEngine, me: SimMe, m: MessageView): Record<string, unknown> {
  switch (engine) {
    case 'WEBJS': {
      const id = { fromMe: true, remote: m.chatId, id: m.keyId, _serialized: m.id };
      return {
        _data: { id, body: m.body, type: webjsType(m), t: m.timestamp, from: me.id, to: m.chatId, ack: 0 },
        id, ack: 0, hasMedia: Boolean(m.media), body: m.body, type: webjsType(m), timestamp: m.timestamp, from: me.id,
        to: m.chatId, deviceType: 'web', isForwarded: false, forwardingScore: 0, isStatus: false, isStarred: false,
        fromMe: true, hasQuotedMsg: false, hasReaction: false, vCards: [], mentionedIds: [], links: [],
      };
    }
    case 'NOWEB':
      // src/core/engines/noweb/session.noweb.core.ts (sendText): Baileys' sendMessage result as is.
      return {
        key: { remoteJid: toJid(m.chatId), fromMe: true, id: m.keyId },
        message: protoContent(m),
        messageTimestamp: String(m.timestamp),
        status: 'PENDING',
      };
    case 'GOWS':
      return {
        id: m.id,
        _data: {
          Info: { ID: m.keyId, Chat: toJid(m.chatId), IsFromMe: true, Timestamp: new Date(m.timestamp * 1000).toISOString() },
          Message: m.media ? protoContent(m) : { conversation: m.body },
        },
      };
  }
}

/** `{session}/{messageId}.{ext}` under /api/files: where WAHA's local media storage keeps a file. */
export function mediaFileName(m: MessageView & { session?: string }): string {
  const ext = m.media?.mimetype.split('/')[1]?.replace('jpeg', 'jpg') ?? 'bin';
  return `${m.session ?? 'default'}/${m.id}.${ext}`;
}

/** `engine` block of GET /api/sessions/{name} (SessionInfo in the OpenAPI). */
export function engineInfo(engine: SimEngine, working: boolean): Record<string, unknown> {
  switch (engine) {
    case 'WEBJS': return { engine, WWebVersion: '2.3000.1017054665', state: working ? 'CONNECTED' : null };
    case 'NOWEB': return { engine };
    case 'GOWS': return { engine, grpc: { client: working ? 'READY' : 'IDLE', stream: working ? 'READY' : 'IDLE' } };
  }
}

/** MeInfo per engine: NOWEB and GOWS know their own LID and device JID. */
export function meInfo(engine: SimEngine, me: SimMe): Record<string, unknown> {
  if (engine === 'WEBJS' || !me.lid) return { id: me.id, pushName: me.pushName };
  return { id: me.id, lid: me.lid, jid: `${me.id.split('@')[0] ?? ''}:7@s.whatsapp.net`, pushName: me.pushName };
}

/**
 * Which WAHA is simulated. `current`: the pinned 2026.7.1, where the free Core image has every
 * former Plus feature, media included (release 2026.6.1). `core-before-2026.6`: a Core image from
 * before that, where sendImage/sendFile answer 422 AvailableInPlusVersion.
 */
export type SimBuild = 'current' | 'core-before-2026.6';

export function buildVersion(build: SimBuild): string {
  return build === 'current' ? WAHA_VERSION : '2026.5.2';
}

export function environment(engine: SimEngine, build: SimBuild = 'current'): Record<string, unknown> {
  return {
    version: `${buildVersion(build)}-sim`, engine, tier: 'CORE',
    browser: engine === 'WEBJS' ? '/usr/bin/chromium' : '', platform: `${process.platform}/${process.arch}`,
    worker: { id: null },
  };
}
