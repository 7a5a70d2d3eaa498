/** Builds Client-Server API paths with every interpolated value percent-encoded. */

/** The base path of every Client-Server endpoint. */
export const CLIENT_API_PREFIX = '/_matrix/client/v3';

/**
 * A tagged template for paths under `prefix`: each interpolated value is encoded as one path
 * segment, so room IDs (`!a:b`), aliases (`#a:b`), event IDs (`$…`, may contain `/`) and empty
 * state keys all arrive intact.
 */
export function pathTemplate(
  prefix: string,
): (strings: TemplateStringsArray, ...values: string[]) => string {
  return (strings, ...values) => {
    let path = prefix + strings[0];
    values.forEach((value, index) => {
      path += encodeURIComponent(value) + strings[index + 1];
    });
    return path;
  };
}

/** Client-Server API paths: `clientPath\`/rooms/${roomId}/state\``. */
export const clientPath = pathTemplate(CLIENT_API_PREFIX);

/** Query parameters: `undefined` leaves a parameter out, an array repeats it (`?via=a&via=b`). */
export type Query = Record<string, string | number | boolean | readonly string[] | undefined>;

export function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) {
      params.append(key, String(item));
    }
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** The path with every query value blanked (`?since=&timeout=`), for logs. */
export function redactQuery(pathAndQuery: string): string {
  const start = pathAndQuery.indexOf('?');
  if (start === -1) {
    return pathAndQuery;
  }
  const keys = [...new URLSearchParams(pathAndQuery.slice(start + 1)).keys()];
  return `${pathAndQuery.slice(0, start)}?${keys.map((key) => `${encodeURIComponent(key)}=`).join('&')}`;
}
