/**
 * The device a new session gets (`createSession`, `register`): an ID the client picks, and a
 * display name, checked before any upstream call.
 */
import { facadeError } from './errors.ts';
import { requireMaxBytes, requireNonBlank } from './mutation-support.ts';

/** Longest device ID the facade forwards, in bytes. */
export const MAX_DEVICE_ID_BYTES = 255;
/**
 * Longest device name, in characters. The spec sets no bound; Synapse 1.160 refuses more than 100
 * characters with 400 `M_TOO_LARGE` ("Device display name is too long (max 100)").
 */
export const MAX_DEVICE_NAME_LENGTH = 100;

/** The device fields of `input`, checked: a device ID of at most 255 bytes, a short name. */
export function newDeviceFields(input: {
  deviceId?: string | null | undefined;
  deviceName?: string | null | undefined;
}): { deviceId?: string; initialDeviceDisplayName?: string } {
  const deviceId =
    input.deviceId == null
      ? undefined
      : requireMaxBytes(
          requireNonBlank(input.deviceId, 'deviceId'),
          'deviceId',
          MAX_DEVICE_ID_BYTES,
        );
  const deviceName = input.deviceName ?? undefined;
  if (deviceName !== undefined && deviceName.length > MAX_DEVICE_NAME_LENGTH) {
    throw facadeError(
      'BAD_USER_INPUT',
      `deviceName must be at most ${MAX_DEVICE_NAME_LENGTH} characters.`,
      { extensions: { field: 'deviceName' } },
    );
  }
  return {
    ...(deviceId === undefined ? {} : { deviceId }),
    ...(deviceName === undefined ? {} : { initialDeviceDisplayName: deviceName }),
  };
}
