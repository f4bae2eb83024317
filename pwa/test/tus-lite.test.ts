import { describe, expect, it } from "vitest";
import { encodeMetadata, tusUpload, TusError, type TusOptions } from "../src/tus-lite";
import { bytes, decodeMetadata, ENDPOINT, error, FakeTusServer, json } from "./fake-tus";

const AUTH = { Authorization: "Bearer tok" };

function options(server: FakeTusServer, extra: Partial<TusOptions> = {}): TusOptions {
  return {
    endpoint: ENDPOINT,
    metadata: { filename: "现场.jpg", case_id: "1", sha256: "ab" },
    headers: AUTH,
    chunkBytes: 10,
    fetch: server.fetch,
    ...extra,
  };
}

async function rejection(promise: Promise<unknown>): Promise<TusError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TusError);
  return err as TusError;
}

describe("encodeMetadata", () => {
  it("encodes each value as base64 of its UTF-8 bytes", () => {
    const header = encodeMetadata({ filename: "现场 1.jpg", stage: "filing" });
    expect(header).toMatch(/^filename \S+,stage \S+$/);
    expect(decodeMetadata(header)).toEqual({ filename: "现场 1.jpg", stage: "filing" });
  });
});

describe("tusUpload", () => {
  it("creates an upload, stores its URL before any byte, then PATCHes chunk by chunk", async () => {
    const server = new FakeTusServer();
    const data = bytes(25);
    const events: string[] = [];
    const result = await tusUpload(
      new Blob([data]),
      options(server, {
        onUploadUrl: (url) => {
          events.push(`url ${url}`);
        },
        onProgress: (sent, total) => {
          events.push(`${sent}/${total}`);
        },
      }),
    );

    expect(server.methods()).toEqual(["POST", "PATCH", "PATCH", "PATCH"]);
    const [post, ...patches] = server.calls;
    expect(post.headers["upload-length"]).toBe("25");
    expect(post.headers["tus-resumable"]).toBe("1.0.0");
    expect(post.headers.authorization).toBe("Bearer tok");
    expect(decodeMetadata(post.headers["upload-metadata"])).toEqual({
      filename: "现场.jpg",
      case_id: "1",
      sha256: "ab",
    });
    expect(patches.map((p) => [p.offset, p.bodySize])).toEqual([
      [0, 10],
      [10, 10],
      [20, 5],
    ]);
    expect(
      patches.every((p) => p.headers["content-type"] === "application/offset+octet-stream"),
    ).toBe(true);
    expect(events).toEqual([`url ${ENDPOINT}u1`, "10/25", "20/25", "25/25"]);
    expect(result.url).toBe(`${ENDPOINT}u1`); // the relative Location, made absolute
    expect(result.mediaId).toBe(server.uploads.get("u1")!.mediaId);
    expect(server.uploads.get("u1")!.bytes).toEqual(data);
  });

  it("resumes a stored URL from the offset the server reports (HEAD), without a new upload", async () => {
    const server = new FakeTusServer();
    const data = bytes(25);
    const url = server.seed(data, 12);
    const urls: (string | null)[] = [];
    await tusUpload(
      new Blob([data]),
      options(server, { uploadUrl: url, onUploadUrl: (u) => void urls.push(u) }),
    );

    expect(server.methods()).toEqual(["HEAD", "PATCH", "PATCH"]);
    expect(server.calls.slice(1).map((c) => [c.offset, c.bodySize])).toEqual([
      [12, 10],
      [22, 3],
    ]);
    expect(urls).toEqual([]); // the stored URL stays
    expect(server.uploads.get("u1")!.bytes).toEqual(data);
  });

  it("finishes at once when the stored upload is already complete", async () => {
    const server = new FakeTusServer();
    const data = bytes(8);
    const url = server.seed(data, 8);
    const result = await tusUpload(new Blob([data]), options(server, { uploadUrl: url }));
    expect(server.methods()).toEqual(["HEAD"]);
    expect(result.url).toBe(url);
  });

  it("starts a new upload when the stored one is gone (404/410) or holds other bytes", async () => {
    const server = new FakeTusServer();
    const data = bytes(15);
    const urls: (string | null)[] = [];
    await tusUpload(
      new Blob([data]),
      options(server, { uploadUrl: `${ENDPOINT}expired`, onUploadUrl: (u) => void urls.push(u) }),
    );
    expect(server.methods()).toEqual(["HEAD", "POST", "PATCH", "PATCH"]);
    expect(urls).toEqual([null, `${ENDPOINT}u1`]);

    const other = server.seed(bytes(40), 5);
    const again = await tusUpload(new Blob([data]), options(server, { uploadUrl: other }));
    expect(again.url).not.toBe(other);
  });

  it("continues from the server's offset after a 409 (with or without Upload-Offset)", async () => {
    const server = new FakeTusServer();
    const data = bytes(30);
    // Another request wrote the second chunk meanwhile: the server is at 20, we say 10.
    server.once((call) => {
      if (call.method !== "PATCH" || call.offset !== 10) return undefined;
      server.uploads.get("u1")!.bytes = data.slice(0, 20);
      return json(409, error("offset_mismatch"), { "Upload-Offset": "20" });
    });
    await tusUpload(new Blob([data]), options(server));
    expect(server.calls.filter((c) => c.method === "PATCH").map((c) => c.offset)).toEqual([
      0, 10, 20,
    ]);
    expect(server.uploads.get("u1")!.bytes).toEqual(data);

    const plain = new FakeTusServer();
    plain.once((call) =>
      call.method === "PATCH" && call.offset === 10 ? json(409, error("conflict")) : undefined,
    );
    await tusUpload(new Blob([data]), options(plain));
    // no offset in the answer: ask with HEAD, then send the same chunk again
    expect(plain.methods()).toEqual(["POST", "PATCH", "PATCH", "HEAD", "PATCH", "PATCH"]);
    expect(plain.uploads.get("u1")!.bytes).toEqual(data);
  });

  it("gives up after repeated 409s, retryable later", async () => {
    const server = new FakeTusServer();
    for (let i = 0; i < 4; i++) {
      server.once((call) =>
        call.method === "PATCH"
          ? json(409, error("offset_mismatch"), { "Upload-Offset": "0" })
          : undefined,
      );
    }
    const err = await rejection(tusUpload(new Blob([bytes(20)]), options(server)));
    expect(err).toMatchObject({ status: 409, retryable: true });
  });

  it("stops for good on 412 (another tus version) and keeps the server's words", async () => {
    const server = new FakeTusServer();
    server.once(() =>
      json(412, error("tus_version_unsupported", "send 'Tus-Resumable: 1.0.0'"), {
        "Tus-Version": "1.0.0",
      }),
    );
    const err = await rejection(tusUpload(new Blob([bytes(20)]), options(server)));
    expect(err).toMatchObject({ status: 412, code: "tus_version_unsupported", retryable: false });
    expect(err.message).toContain("1.0.0");
    expect(server.methods()).toEqual(["POST"]);
  });

  it("tells a refusal (4xx) from a failure worth retrying (network, 5xx, 423)", async () => {
    const refused = new FakeTusServer();
    refused.once(() => json(422, error("invalid", "stage is not one of the case's stages")));
    const invalid = await rejection(tusUpload(new Blob([bytes(5)]), options(refused)));
    expect(invalid).toMatchObject({ status: 422, retryable: false });
    expect(invalid.message).toBe("stage is not one of the case's stages");

    const archived = new FakeTusServer();
    archived.once(() => json(409, error("case_archived")));
    expect(await rejection(tusUpload(new Blob([bytes(5)]), options(archived)))).toMatchObject({
      status: 409,
      retryable: false,
    });

    for (const answer of ["network", json(503, {}), json(423, error("upload_locked"))] as const) {
      const server = new FakeTusServer();
      server.once((call) => (call.method === "PATCH" && call.offset === 10 ? answer : undefined));
      const data = bytes(25);
      const urls: (string | null)[] = [];
      const err = await rejection(
        tusUpload(new Blob([data]), options(server, { onUploadUrl: (u) => void urls.push(u) })),
      );
      expect(err.retryable).toBe(true);
      // the next attempt resumes where the server stands
      await tusUpload(new Blob([data]), options(server, { uploadUrl: urls[0] }));
      expect(server.methods().slice(-3)).toEqual(["HEAD", "PATCH", "PATCH"]);
      expect(server.uploads.get("u1")!.bytes).toEqual(data);
    }
  });

  it("is stopped by its signal", async () => {
    const server = new FakeTusServer();
    const stop = new AbortController();
    const err = await rejection(
      tusUpload(
        new Blob([bytes(30)]),
        options(server, { signal: stop.signal, onProgress: () => stop.abort() }),
      ),
    );
    expect(err).toMatchObject({ code: "aborted", retryable: true });
    expect(server.methods()).toEqual(["POST", "PATCH"]); // the second chunk never left
  });

  it("says 401 is the session's end, not a network failure", async () => {
    const server = new FakeTusServer();
    const err = await rejection(
      tusUpload(
        new Blob([bytes(5)]),
        options(server, { headers: { Authorization: "Bearer old" } }),
      ),
    );
    expect(err).toMatchObject({ status: 401, code: "unauthorized", retryable: false });
  });
});
