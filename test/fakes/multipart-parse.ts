/**
 * A small multipart/form-data parser for the fake asciinema server: enough to see what an
 * uploader really sent (field names, filenames, part bodies) without trusting any library
 * that the code under test might share.
 */

/** One parsed part. */
export interface FormPart {
  name: string;
  /** Present (possibly '') when the part's Content-Disposition has a filename parameter. */
  filename?: string;
  body: Buffer;
}

/** The boundary from a Content-Type header, or undefined when it is not multipart/form-data. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data/i.test(contentType)) return undefined;
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** Parses a whole multipart body; throws on a malformed one. */
export function parseMultipart(body: Buffer, boundary: string): FormPart[] {
  const delim = Buffer.from(`--${boundary}`);
  const parts: FormPart[] = [];
  let pos = body.indexOf(delim);
  if (pos < 0) throw new Error('no boundary in body');
  for (;;) {
    pos += delim.length;
    if (body.subarray(pos, pos + 2).toString() === '--') return parts;
    if (body.subarray(pos, pos + 2).toString() !== '\r\n') throw new Error('malformed boundary line');
    pos += 2;
    const headEnd = body.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) throw new Error('part without headers end');
    const head = body.subarray(pos, headEnd).toString('utf8');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headEnd + 4);
    if (next < 0) throw new Error('part without closing boundary');
    const disp = /content-disposition:\s*form-data([^\r\n]*)/i.exec(head);
    if (!disp) throw new Error('part without form-data disposition');
    const name = /;\s*name="([^"]*)"/i.exec(disp[1]!)?.[1] ?? '';
    const filename = /;\s*filename="([^"]*)"/i.exec(disp[1]!)?.[1];
    parts.push({ name, ...(filename !== undefined ? { filename } : {}), body: body.subarray(headEnd + 4, next) });
    pos = next + 2;
  }
}
