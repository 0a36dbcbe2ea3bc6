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
        body: m.body, type: 'chat', t: m.timestamp, from, to, ack: m.ack,
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
        message: { extendedTextMessage: { text: m.body } },
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
        Message: { conversation: m.body },
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
    body: m.body,
    hasMedia: false,
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
        _data: { id, body: m.body, type: 'chat', t: m.timestamp, from: me.id, to: m.chatId, ack: 0 },
        id, ack: 0, hasMedia: false, body: m.body, type: 'chat', timestamp: m.timestamp, from: me.id,
        to: m.chatId, deviceType: 'web', isForwarded: false, forwardingScore: 0, isStatus: false, isStarred: false,
        fromMe: true, hasQuotedMsg: false, hasReaction: false, vCards: [], mentionedIds: [], links: [],
      };
    }
    case 'NOWEB':
      // src/core/engines/noweb/session.noweb.core.ts (sendText): Baileys' sendMessage result as is.
      return {
        key: { remoteJid: toJid(m.chatId), fromMe: true, id: m.keyId },
        message: { extendedTextMessage: { text: m.body } },
        messageTimestamp: String(m.timestamp),
        status: 'PENDING',
      };
    case 'GOWS':
      return {
        id: m.id,
        _data: {
          Info: { ID: m.keyId, Chat: toJid(m.chatId), IsFromMe: true, Timestamp: new Date(m.timestamp * 1000).toISOString() },
          Message: { conversation: m.body },
        },
      };
  }
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

export function environment(engine: SimEngine): Record<string, unknown> {
  return {
    version: `${WAHA_VERSION}-sim`, engine, tier: 'CORE',
    browser: engine === 'WEBJS' ? '/usr/bin/chromium' : '', platform: `${process.platform}/${process.arch}`,
    worker: { id: null },
  };
}
