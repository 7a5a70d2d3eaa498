/**
 * Reading an upstream answer: the body within a byte limit, and what a transport failure was.
 * Used by src/matrix/http.ts, which sends the requests.
 */
import type { Dispatcher } from 'undici';
import type { ConnectionFailure } from './errors.ts';

/** Thrown by {@link readBody} when the body outgrows the limit; classified as `too-large`. */
class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
  readonly code = 'UND_ERR_RES_EXCEEDED_MAX_SIZE';
}

/**
 * The body as text, counting bytes as they arrive: past `maxBytes` (or at once when
 * `Content-Length` announces more) the stream is destroyed, which closes the connection, and no
 * more of it is read or held.
 */
export async function readBody(
  response: Dispatcher.ResponseData,
  maxBytes: number,
): Promise<string> {
  const declared = Number(headerValue(response.headers['content-length']));
  const tooLarge = () =>
    new ResponseTooLargeError(`the response is larger than the ${maxBytes} bytes accepted`);
  if (declared > maxBytes) {
    response.body.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of response.body) {
    const bytes = chunk as Buffer;
    received += bytes.length;
    if (received > maxBytes) {
      // Leaving the loop by a throw destroys the stream.
      throw tooLarge();
    }
    chunks.push(bytes);
  }
  // Decoded once at the end, so that a character split between chunks stays whole.
  return Buffer.concat(chunks, received).toString('utf8');
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const timeoutCodes = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const connectCodes = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

export function classifyTransportError(error: unknown): ConnectionFailure {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
      return 'too-large';
    }
    if (timeoutCodes.has(code)) {
      return 'timeout';
    }
    if (connectCodes.has(code)) {
      return 'connect';
    }
  }
  return 'reset';
}

export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
