// The JSON API behind the page (same origin, read-only).

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** GET /api/<path>?<params>; params is an object or URLSearchParams (empty values dropped). */
export async function getJSON(path, params) {
  const query = new URLSearchParams();
  const entries = params instanceof URLSearchParams ? params.entries() : Object.entries(params || {});
  for (const [key, value] of entries) {
    if (value !== undefined && value !== null && value !== "") query.append(key, value);
  }
  const qs = query.toString();
  let response;
  try {
    response = await fetch(`/api/${path}${qs ? `?${qs}` : ""}`, { cache: "no-store" });
  } catch {
    throw new ApiError("the genai-trace ui server is not reachable (stopped?)", 0);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`unexpected answer from the server (HTTP ${response.status})`, response.status);
  }
  if (!response.ok) throw new ApiError(body && body.error ? body.error : `HTTP ${response.status}`, response.status);
  return body;
}
