// The API client: every call carries the signed-in user's ID token; errors keep the
// server's stable code (validation_failed, role_required, ...) for the page to show.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function createApi(base, getToken) {
  async function call(path, { method = "GET", query, body } = {}) {
    const url = new URL(base + path);
    for (const [key, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
    }
    const headers = { Authorization: `Bearer ${await getToken()}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new ApiError(0, "unreachable", `The API at ${base} did not answer.`);
    }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const error = (data && data.error) || {};
      throw new ApiError(response.status, error.code || `http_${response.status}`, error.message || response.statusText,
        error.details);
    }
    return data;
  }
  return {
    get: (path, query) => call(path, { query }),
    post: (path, body, query) => call(path, { method: "POST", body, query }),
    patch: (path, body) => call(path, { method: "PATCH", body }),
    put: (path, body) => call(path, { method: "PUT", body }),
    del: (path) => call(path, { method: "DELETE" }),
  };
}
