import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { READ_CHUNK } from '../recording/cast-lines.js';

/**
 * A multipart/form-data body built as a stream with a known length. undici's FormData
 * reads Blob parts through memory; a recording can be large, so the file part is streamed
 * from disk and Content-Length is computed from the sizes, which makes the request look like
 * an ordinary upload to servers that dislike chunked bodies.
 */

/** A multipart body ready to hand to undici: a streamed `body` is single-use, build a new one per attempt. */
export interface MultipartBody {
  contentType: string;
  length: number;
  body: AsyncIterable<Buffer> | Iterable<Buffer> | Buffer;
}

/** Bytes in hand up to this size are sent joined with the multipart framing, as one buffer. */
const JOIN_MAX = READ_CHUNK;

/** The file part: `data` when the caller holds the bytes, else `path` is read from disk when the body is consumed. */
export interface FilePart {
  field: string;
  filename: string;
  path: string;
  bytes: number;
  data?: Buffer | undefined;
}

/** Text fields' size as the server counts it (sum of part bodies), used to size split parts. */
export function fieldsBytes(fields: Record<string, string>): number {
  let n = 0;
  for (const v of Object.values(fields)) n += Buffer.byteLength(v);
  return n;
}

// Field names and filenames are ours (ASCII, no quotes), but escape anyway so a
// surprising session name cannot break the part headers.
function quote(s: string): string {
  return s.replace(/[\r\n"\\]/g, (c) => encodeURIComponent(c));
}

/** Builds a streamed multipart body with text `fields` first and the `file` part last. */
export function multipartBody(fields: Record<string, string>, file: FilePart): MultipartBody {
  const boundary = `----teamssh${randomBytes(12).toString('hex')}`;
  const heads: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    heads.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\n\r\n${value}\r\n`));
  }
  heads.push(
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="${quote(file.field)}"; filename="${quote(file.filename)}"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    ),
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const contentType = `multipart/form-data; boundary=${boundary}`;
  // Bytes in hand go as one buffer: undici writes it to the socket at once, where a stream of
  // six pieces (fields, file head, file, tail) took a write each and a Readable around them.
  if (file.data && file.data.length <= JOIN_MAX) {
    const body = Buffer.concat([...heads, file.data, tail]);
    return { contentType, length: body.length, body };
  }
  // A large buffer (a part, src/upload/part-bodies.ts) goes as it is: joined, every part
  // would cost a copy and a fresh buffer the size of the part.
  if (file.data) return { contentType, length: heads.reduce((n, b) => n + b.length, 0) + file.data.length + tail.length, body: [...heads, file.data, tail] };
  const length = heads.reduce((n, b) => n + b.length, 0) + file.bytes + tail.length;
  async function* generate(): AsyncGenerator<Buffer> {
    for (const h of heads) yield h;
    // Opened only when undici starts sending, so an attempt that never sends leaks no descriptor.
    // ReadStream allocates a whole highWaterMark per read: 1 MiB pieces for big files (fewer
    // reads and socket writes), no more than the file for the many small ones.
    const stream = createReadStream(file.path, { highWaterMark: Math.max(1, Math.min(READ_CHUNK, file.bytes)) });
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } finally {
      stream.destroy();
    }
    yield tail;
  }
  return { contentType, length, body: generate() };
}
