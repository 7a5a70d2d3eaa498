/** The process's structured logger (pino, JSON lines on stdout). */
import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Paths pino censors in every log line, wherever a careless caller puts them: tokens and passwords
 * must never reach a log, and request headers carry the bearer token.
 */
const redactedPaths = [
  'authorization',
  'accessToken',
  'access_token',
  'password',
  '*.authorization',
  '*.accessToken',
  '*.access_token',
  '*.password',
  'req.headers.authorization',
  'request.headers.authorization',
  'headers.authorization',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: redactedPaths, censor: '[redacted]' } }, destination);
}
