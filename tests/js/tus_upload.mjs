// Upload one file to a tus 1.0 server with the official tus-js-client, for the Python tests.
//
//   node tus_upload.mjs ENDPOINT FILE METADATA_JSON CHUNK_SIZE
//
// Environment:
//   TUS_TOKEN                  bearer token sent on every request (required)
//   TUS_UPLOAD_URL             resume this upload instead of creating one
//   TUS_ABORT_AFTER            abort (keeping the upload) once this many bytes are acknowledged
//                              or in flight; the process then exits 0 with "aborted": true
//   TUS_DATA_DURING_CREATION   "1": send the first chunk with the POST (creation-with-upload)
//
// Prints one JSON object on stdout:
//   {url, mediaId, aborted, size, headOffsets, patchOffsets, statuses, bytesSent}
// where headOffsets are the Upload-Offset values the server answered to HEAD, patchOffsets the
// Upload-Offset each PATCH (or POST with data) started at, and bytesSent the bytes this run put
// on the wire (progress reached minus where it started, summed over requests).
import fs from 'node:fs';
import process from 'node:process';

import * as tus from 'tus-js-client';

function fail(message) {
  process.stderr.write(`tus_upload: ${message}\n`);
  process.exit(2);
}

const [endpoint, filePath, metadataJson, chunkArg] = process.argv.slice(2);
if (!endpoint || !filePath || !metadataJson || !chunkArg) {
  fail('usage: node tus_upload.mjs ENDPOINT FILE METADATA_JSON CHUNK_SIZE');
}
const token = process.env.TUS_TOKEN;
if (!token) fail('TUS_TOKEN is not set');
const chunkSize = Number(chunkArg);
if (!Number.isInteger(chunkSize) || chunkSize <= 0) fail(`bad chunk size ${chunkArg}`);
const abortAfter = process.env.TUS_ABORT_AFTER ? Number(process.env.TUS_ABORT_AFTER) : null;
const metadata = JSON.parse(metadataJson);
const size = fs.statSync(filePath).size;

const report = {
  url: null,
  mediaId: null,
  aborted: false,
  size,
  headOffsets: [],
  patchOffsets: [],
  statuses: [],
  bytesSent: 0,
};
// Progress within the request in flight: [start offset, furthest offset reached].
let current = null;

function closeRequest() {
  if (current !== null) {
    report.bytesSent += current[1] - current[0];
    current = null;
  }
}

function finish(code) {
  closeRequest();
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exit(code);
}

const upload = new tus.Upload(fs.createReadStream(filePath), {
  endpoint,
  uploadUrl: process.env.TUS_UPLOAD_URL || null,
  chunkSize,
  metadata,
  headers: { Authorization: `Bearer ${token}` },
  uploadDataDuringCreation: process.env.TUS_DATA_DURING_CREATION === '1',
  storeFingerprintForResuming: false,
  // 409 (offset moved) and 423 (another request holds the upload) are retried after a HEAD.
  retryDelays: [100, 250, 500, 1000, 1000, 2000, 2000],
  onBeforeRequest(req) {
    const method = req.getMethod();
    // A POST carrying data (creation-with-upload) starts at 0 and has no Upload-Offset.
    const withData = req.getHeader('Content-Type') === 'application/offset+octet-stream';
    if (method === 'PATCH' || (method === 'POST' && withData)) {
      closeRequest();
      const start = Number(req.getHeader('Upload-Offset') ?? 0);
      report.patchOffsets.push(start);
      current = [start, start];
    }
  },
  onAfterResponse(req, res) {
    const method = req.getMethod();
    report.statuses.push(`${method} ${res.getStatus()}`);
    if (method === 'HEAD' && res.getStatus() === 200) {
      report.headOffsets.push(Number(res.getHeader('Upload-Offset')));
    }
    const mediaId = res.getHeader('Fieldtrace-Media-Id');
    if (mediaId) report.mediaId = mediaId;
  },
  onProgress(bytesUploaded) {
    if (current !== null && bytesUploaded > current[1]) current[1] = bytesUploaded;
    if (abortAfter !== null && !report.aborted && bytesUploaded >= abortAfter) {
      report.aborted = true;
      report.url = upload.url;
      // abort(false): stop sending but keep the upload on the server for a later resume.
      upload.abort(false).then(() => finish(0), (err) => fail(`abort failed: ${err}`));
    }
  },
  onError(err) {
    closeRequest();
    process.stderr.write(`tus_upload: ${err}\n`);
    report.url = upload.url;
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(1);
  },
  onSuccess(payload) {
    report.url = upload.url;
    const mediaId = payload?.lastResponse?.getHeader('Fieldtrace-Media-Id');
    if (mediaId) report.mediaId = mediaId;
    finish(0);
  },
});

upload.start();
