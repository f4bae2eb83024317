import "fake-indexeddb/auto";
import encodeQR from "qr";
import decodeQR from "qr/decode.js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fetchCredential, offlineSecondsLeft, qrDataUrl } from "../src/credential";
import {
  b64urlDecode,
  b64urlEncode,
  certUsable,
  clockOffset,
  codeFromParts,
  credentialExpired,
  makeOfflineCode,
  registeredKey,
  serverSeconds,
  shanghaiDate,
  signedMessage,
  storedKey,
  uint32,
  type OfflineCert,
} from "../src/device-key";

// Made by the server's side (Python `cryptography`, tests/test_offline_credential.py's way):
// a fixed P-256 key, a 29-byte certificate, a time and the raw r ‖ s signature.
const PY = {
  publicKey:
    "BO-IDI74FogXlsGI5XGwGsb3DFJidFba5IZ1jv_Zxj3dXNvBHiSIOhJZgkKpWHW5aohU9kv_msmjOBC4HxVPVOU",
  cert: "AQAAAAcAAAADa0nSAAABAgMEBQYHCAkKCwwNDg8",
  ts: 1799990000,
  signature:
    "R9y38C4m93IQl8WmvK2gRkmgqtWFwvU1uUPEXbG1m2-nIKEb0sU0pWb77AasjDHQfCCwqNV1pmbNMB6WYcz8jQ",
  code:
    "AQAAAAcAAAADa0nSAAABAgMEBQYHCAkKCwwNDg9rSarwR9y38C4m93IQl8WmvK2gRkmgqtWFwvU1uUPEXbG1m2-n" +
    "IKEb0sU0pWb77AasjDHQfCCwqNV1pmbNMB6WYcz8jQ",
};

function offlineCert(cert: string, expires = "2099-01-01T00:00:00Z"): OfflineCert {
  return {
    cert,
    expires_at: expires,
    device_key_id: 3,
    verify_prefix: "https://zhifa.example.gov.cn/public/credentials/offline/",
    window_seconds: 60,
    rotate_seconds: 30,
  };
}

/** The QR's modules as a grey image, as a camera would see the screen. */
function render(url: string, scale = 4) {
  const modules = encodeQR(url, "raw", { ecc: "medium", border: 4 });
  const size = modules.length * scale;
  const data = new Uint8Array(size * size * 4).fill(255);
  modules.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (!dark) return;
      for (let dy = 0; dy < scale; dy++) {
        for (let dx = 0; dx < scale; dx++) {
          const at = ((y * scale + dy) * size + x * scale + dx) * 4;
          data[at] = data[at + 1] = data[at + 2] = 0;
        }
      }
    }),
  );
  return { modules, image: { width: size, height: size, data } };
}

describe("device key encoding", () => {
  it("speaks strict base64url", () => {
    const bytes = Uint8Array.from([0, 1, 250, 251, 252, 253, 254, 255]);
    expect(b64urlEncode(bytes)).toBe("AAH6-_z9_v8");
    expect(b64urlDecode("AAH6-_z9_v8")).toEqual(bytes);
    expect(b64urlDecode("")).toEqual(new Uint8Array());
    for (const bad of ["AAH6+/z9/v8", "AAH6-_z9_v8=", "A", "a b"]) {
      expect(() => b64urlDecode(bad), bad).toThrow();
    }
  });

  it("packs the time as 4 bytes, big-endian", () => {
    expect(uint32(0x01020304)).toEqual(Uint8Array.from([1, 2, 3, 4]));
    expect(() => uint32(-1)).toThrow();
    expect(() => uint32(2 ** 32)).toThrow();
    expect(() => uint32(1.5)).toThrow();
  });

  it("signs the label, the certificate and the time, in that order", () => {
    const message = signedMessage(Uint8Array.from([9, 8]), 0x0a0b0c0d);
    const label = new TextEncoder().encode("fieldtrace/offline-credential-code/v1");
    expect(message).toEqual(Uint8Array.from([...label, 9, 8, 10, 11, 12, 13]));
  });

  it("agrees with the server byte for byte", async () => {
    const cert = b64urlDecode(PY.cert);
    const signature = b64urlDecode(PY.signature);
    expect(cert.length).toBe(29);
    expect(signature.length).toBe(64);
    expect(codeFromParts(cert, PY.ts, signature)).toBe(PY.code);
    expect(PY.code.length).toBe(130);
    const publicKey = await crypto.subtle.importKey(
      "raw",
      b64urlDecode(PY.publicKey) as Uint8Array<ArrayBuffer>,
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["verify"],
    );
    const verify = (ts: number) =>
      crypto.subtle.verify(
        { name: "ECDSA", hash: "SHA-256" },
        publicKey,
        signature as Uint8Array<ArrayBuffer>,
        signedMessage(cert, ts),
      );
    expect(await verify(PY.ts)).toBe(true);
    expect(await verify(PY.ts + 1)).toBe(false);
  });

  it("makes a code the phone's public key verifies, and its page URL", async () => {
    const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
      "sign",
      "verify",
    ]);
    expect(pair.privateKey.extractable).toBe(false);
    const offline = offlineCert(PY.cert);
    const { code, url } = await makeOfflineCode(pair.privateKey, offline, PY.ts);
    expect(url).toBe(offline.verify_prefix + code);
    const raw = b64urlDecode(code);
    expect(raw.length).toBe(97);
    expect(b64urlEncode(raw.subarray(0, 29))).toBe(PY.cert);
    expect(new DataView(raw.buffer).getUint32(29)).toBe(PY.ts);
    const ok = await crypto.subtle.verify(
      { name: "ECDSA", hash: "SHA-256" },
      pair.publicKey,
      raw.slice(33),
      signedMessage(raw.subarray(0, 29), PY.ts),
    );
    expect(ok).toBe(true);
  });

  it("dates codes by the server's clock", () => {
    expect(
      clockOffset(
        "2026-11-27T08:00:10Z",
        Date.parse("2026-11-27T08:00:00Z"),
        Date.parse("2026-11-27T08:00:02Z"),
      ),
    ).toBe(9000);
    expect(clockOffset("not a time", 0, 10)).toBe(0);
    expect(serverSeconds(1_799_990_000_400, 9000)).toBe(1_799_990_009);
    expect(serverSeconds(1_799_990_000_999, 0)).toBe(1_799_990_000);
  });

  it("uses a certificate only until it expires", () => {
    const now = Date.parse("2026-11-27T08:00:00Z");
    expect(certUsable(offlineCert(PY.cert, "2026-11-27T08:00:01Z"), now)).toBe(true);
    expect(certUsable(offlineCert(PY.cert, "2026-11-27T08:00:00Z"), now)).toBe(false);
    expect(certUsable(null, now)).toBe(false);
    expect(certUsable(undefined, now)).toBe(false);
  });

  it("ends the credential after its last valid day in Asia/Shanghai, whatever the phone's zone", () => {
    // 2026-11-27 23:59:59 and 2026-11-28 00:00:00 in Shanghai (UTC+8)
    const lastSecond = Date.parse("2026-11-27T15:59:59Z");
    const nextDay = Date.parse("2026-11-27T16:00:00Z");
    expect(shanghaiDate(lastSecond)).toBe("2026-11-27");
    expect(shanghaiDate(nextDay)).toBe("2026-11-28");
    expect(credentialExpired("2026-11-27", lastSecond)).toBe(false);
    expect(credentialExpired("2026-11-27", nextDay)).toBe(true);
    expect(credentialExpired("2026-11-26", lastSecond)).toBe(true);
    expect(credentialExpired("2026-11-27T00:00:00", nextDay)).toBe(true); // a datetime: its date
    expect(credentialExpired(null, nextDay)).toBe(false); // unknown: the server decides
    expect(credentialExpired("not a date", nextDay)).toBe(false);
    expect(credentialExpired("2026-11-27", Date.parse("+058884-03-28T00:00:00Z"))).toBe(true);
  });

  it("makes no offline code after the credential's last valid day, even with a live certificate", () => {
    const cert = offlineCert(PY.cert, "2026-11-29T00:00:00Z"); // an older, uncapped certificate
    const lastSecond = Date.parse("2026-11-27T15:59:59Z");
    const nextDay = Date.parse("2026-11-27T16:00:00Z");
    expect(certUsable(cert, lastSecond, "2026-11-27")).toBe(true);
    expect(certUsable(cert, nextDay, "2026-11-27")).toBe(false);
    expect(certUsable(cert, nextDay)).toBe(true); // without valid_to: the certificate alone
  });

  it("renews an offline code every rotate_seconds", () => {
    expect(offlineSecondsLeft(1000, 30, 1000)).toBe(30);
    expect(offlineSecondsLeft(1000, 30, 1029)).toBe(1);
    expect(offlineSecondsLeft(1000, 30, 1030)).toBe(0);
    expect(offlineSecondsLeft(1000, 30, 2000)).toBe(0);
  });

  it("draws a QR code that reads back as the URL, small enough to scan off a screen", () => {
    const url = offlineCert(PY.cert).verify_prefix + PY.code;
    const { modules, image } = render(url);
    const version = (modules.length - 8 - 17) / 4;
    expect(version).toBeLessThanOrEqual(15);
    expect(decodeQR(image)).toBe(url);
    const img = qrDataUrl(url);
    expect(img.startsWith("data:image/svg+xml;base64,")).toBe(true);
    expect(atob(img.split(",")[1])).toContain("<svg");
  });
});

describe("registeredKey", () => {
  afterEach(() => vi.unstubAllGlobals());

  function server(...answers: [number, unknown][]) {
    const calls: { public_key: string; device_id: string }[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (_url: string, init: RequestInit) => {
        calls.push(JSON.parse(String(init.body)));
        const next = answers.shift();
        if (!next) throw new TypeError("Failed to fetch");
        const [status, body] = next;
        return new Response(JSON.stringify(body), { status });
      }),
    );
    return calls;
  }

  it("makes a key once, registers it, and keeps it in IndexedDB", async () => {
    const calls = server([201, { id: 5 }], [200, { id: 5 }]);
    const first = await registeredKey(101);
    expect(first?.keyId).toBe(5);
    expect(first?.privateKey.extractable).toBe(false);
    expect(b64urlDecode(first!.publicKey).length).toBe(65);
    const again = await registeredKey(101);
    expect(again?.publicKey).toBe(first?.publicKey);
    expect(calls.map((c) => c.public_key)).toEqual([first!.publicKey, first!.publicKey]);
    expect(calls[0].device_id).toMatch(/^pwa-/);
    const stored = await storedKey(101);
    expect(stored?.keyId).toBe(5);
  });

  it("replaces a revoked key with a new one", async () => {
    server([201, { id: 7 }]);
    const old = await registeredKey(102);
    const calls = server(
      [409, { error: { code: "device_key_revoked", message: "revoked" } }],
      [201, { id: 8 }],
    );
    const fresh = await registeredKey(102);
    expect(fresh?.keyId).toBe(8);
    expect(fresh?.publicKey).not.toBe(old?.publicKey);
    expect(calls.map((c) => c.public_key)).toEqual([old!.publicKey, fresh!.publicKey]);
  });

  it("gives up quietly when the server refuses, and throws when offline", async () => {
    server([409, { error: { code: "device_not_yours", message: "not yours" } }]);
    expect(await registeredKey(103)).toBeNull();
    server();
    await expect(registeredKey(103)).rejects.toMatchObject({ status: 0 });
    expect(await storedKey(103)).toBeDefined(); // made offline, registered when online
  });
});

describe("fetchCredential", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("names the case and the phone's key only when there are some", async () => {
    const urls: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => {
        urls.push(url);
        return new Response("{}", { status: 200 });
      }),
    );
    await fetchCredential();
    await fetchCredential(12);
    await fetchCredential(null, 5);
    await fetchCredential(12, 5);
    expect(urls).toEqual([
      "/api/v1/me/credential",
      "/api/v1/me/credential?case_id=12",
      "/api/v1/me/credential?device_key_id=5",
      "/api/v1/me/credential?case_id=12&device_key_id=5",
    ]);
  });
});
