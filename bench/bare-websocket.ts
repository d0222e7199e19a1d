/**
 * A bare WebSocket client for load generation: the HTTP upgrade, masked text frames out, text
 * frames in as the bytes of their payload, pings answered. No extensions, no fragmentation (the
 * API sends neither), so a subscriber costs the load generator little more than its reads: the
 * bench's clients share the machine's cores with the server they measure.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

const OPCODE_TEXT = 0x1;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;
const HEADER_END = Buffer.from('\r\n\r\n');

export interface BareSocketHandlers {
  /** The upgrade was accepted. */
  onOpen(): void;
  /** A text message's payload (a view of the received bytes: read it before returning). */
  onText(payload: Buffer): void;
  /** The connection ended: the close frame's code, or 1006 without one. */
  onClose(code: number): void;
  onError(error: Error): void;
}

/** A client frame: FIN, the opcode, the mask bit with a random key, and the masked payload. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const extended = payload.length < 126 ? 0 : payload.length < 65_536 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + extended + 4 + payload.length);
  frame[0] = 0x80 | opcode;
  if (extended === 0) frame[1] = 0x80 | payload.length;
  else if (extended === 2) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(payload.length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  const maskAt = 2 + extended;
  randomBytes(4).copy(frame, maskAt);
  for (let i = 0; i < payload.length; i += 1) frame[maskAt + 4 + i] = payload[i]! ^ frame[maskAt + (i % 4)]!;
  return frame;
}

export class BareWebSocket {
  private readonly socket: Socket;
  /** Bytes received and not yet a whole frame (or, before the upgrade, a whole response head). */
  private pending: Buffer | undefined;
  private upgraded = false;
  private closeCode = 1006;

  constructor(url: string, protocol: string, localAddress: string, private readonly on: BareSocketHandlers) {
    const { hostname, port, pathname } = new URL(url);
    const key = randomBytes(16).toString('base64');
    this.socket = connect({ host: hostname, port: Number(port), localAddress, noDelay: true });
    this.socket.on('connect', () =>
      this.socket.write(
        `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`,
      ),
    );
    this.socket.on('data', (chunk: Buffer) => this.received(chunk));
    this.socket.on('error', (error) => on.onError(error));
    this.socket.on('close', () => on.onClose(this.closeCode));
  }

  send(text: string): void {
    this.socket.write(clientFrame(OPCODE_TEXT, Buffer.from(text)));
  }

  terminate(): void {
    this.socket.destroy();
  }

  private received(chunk: Buffer): void {
    let data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    if (!this.upgraded) {
      const end = data.indexOf(HEADER_END);
      if (end < 0) {
        this.pending = data;
        return;
      }
      if (!data.toString('latin1', 0, 12).startsWith('HTTP/1.1 101')) {
        this.on.onError(new Error(data.toString('latin1', 0, data.indexOf('\r\n'))));
        this.socket.destroy();
        return;
      }
      this.upgraded = true;
      this.on.onOpen();
      data = data.subarray(end + HEADER_END.length);
    }
    let at = 0;
    while (data.length - at >= 2) {
      const opcode = data[at]! & 0x0f;
      let length = data[at + 1]! & 0x7f;
      let start = at + 2;
      if (length === 126) {
        if (data.length - at < 4) break;
        length = data.readUInt16BE(at + 2);
        start = at + 4;
      } else if (length === 127) {
        if (data.length - at < 10) break;
        length = Number(data.readBigUInt64BE(at + 2));
        start = at + 10;
      }
      if (data.length < start + length) break;
      const payload = data.subarray(start, start + length);
      at = start + length;
      if (opcode === OPCODE_TEXT) this.on.onText(payload);
      else if (opcode === OPCODE_PING) this.socket.write(clientFrame(OPCODE_PONG, payload));
      else if (opcode === OPCODE_CLOSE) {
        this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.socket.end();
      }
    }
    if (at < data.length) this.pending = Buffer.from(data.subarray(at));
  }
}
