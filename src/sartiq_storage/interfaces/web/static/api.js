// The service's JSON API, called with the bearer token the operator signed in with.

const BASE = new URL("..", document.baseURI); // the service root, whatever prefix serves it

// What the page knows: the token, its scopes (GET /api/v1/token) and the console's config.
export const session = { token: null, scopes: [], config: null };

let unauthorized = () => {};

// What to do when a call answers 401 (the page signs out): set by the main module.
export function onUnauthorized(handler) {
  unauthorized = handler;
}

export function may(scope) {
  return session.scopes.includes(scope);
}

export function url(path, query) {
  const target = new URL(path.replace(/^\//, ""), BASE);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") target.searchParams.set(name, value);
  }
  return target;
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

export function formatDetail(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => `${(d.loc ?? []).filter((p) => p !== "body").join(".")}: ${d.msg}`)
      .join("; ");
  }
  return JSON.stringify(detail);
}

// `token`: the session's (the sign-in form checks a new one with it before it becomes the
// session's). Signed out, nothing is sent: a view still loading when the user signed out
// stops here instead of asking with no token, or with the next one.
export async function api(path, { method = "GET", body, query, token = session.token } = {}) {
  if (!token) throw new ApiError(401, "not signed in");
  const headers = { Accept: "application/json", Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url(path, query), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  if (response.status === 204) return null;
  const text = await response.text();
  let data = text;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  if (!response.ok) {
    const detail = formatDetail(data?.detail ?? data ?? response.statusText);
    // Only a refusal of the token signed in with now signs out: a call made with an earlier
    // token, answered after the user signed in again, does not.
    if (response.status === 401 && session.token === token) unauthorized(`Signed out: the token was refused (${detail}).`);
    throw new ApiError(response.status, detail);
  }
  return data;
}

export function describeError(error) {
  if (!(error instanceof ApiError)) return error.message ?? String(error);
  const prefix = {
    400: "Invalid",
    403: "Refused by the store",
    404: "Not found",
    409: "Conflict",
    410: "The upload is gone",
    412: "Already uploaded",
    413: "Too large",
    415: "Not an accepted image or video",
    422: "Refused",
    503: "The store is unavailable",
  }[error.status] ?? `Error ${error.status}`;
  return `${prefix}: ${error.message}`;
}
