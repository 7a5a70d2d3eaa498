/**
 * The caller's devices: list and delete (`device_management.yaml`). Deleting needs
 * user-interactive authentication (see {@link UiaAuth}).
 */
import type { UiaAuth } from './account.ts';
import type { CallOptions, MatrixClient } from './matrix-client.ts';
import { clientPath } from './paths.ts';

export interface Device {
  deviceId: string;
  displayName: string | null;
  /** Where the device was last seen from, as the homeserver recorded it. */
  lastSeenIp: string | null;
  /** When the device was last seen, in milliseconds since the epoch. */
  lastSeenTs: number | null;
}

interface WireDevice {
  device_id: string;
  display_name?: string | null;
  last_seen_ip?: string | null;
  last_seen_ts?: number | null;
}

/** `GET /devices`: every device of the caller. */
export async function listDevices(client: MatrixClient, options?: CallOptions): Promise<Device[]> {
  const body = await client.send<{ devices?: WireDevice[] }>(
    { method: 'GET', path: clientPath`/devices` },
    options,
  );
  return (body.devices ?? []).map((device) => ({
    deviceId: device.device_id,
    displayName: device.display_name ?? null,
    lastSeenIp: device.last_seen_ip ?? null,
    lastSeenTs: typeof device.last_seen_ts === 'number' ? device.last_seen_ts : null,
  }));
}

/**
 * `DELETE /devices/{deviceId}`: deletes the device and invalidates its access token. Without
 * `auth` (or with an incomplete one) the homeserver answers 401 with the UIA flows.
 */
export async function deleteDevice(
  client: MatrixClient,
  deviceId: string,
  auth: UiaAuth | undefined,
  options?: CallOptions,
): Promise<void> {
  await client.send(
    {
      method: 'DELETE',
      path: clientPath`/devices/${deviceId}`,
      body: auth === undefined ? {} : { auth },
    },
    options,
  );
}
