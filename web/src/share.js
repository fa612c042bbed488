// The page state in the URL fragment, so a reviewer can send a link. The
// fragment never reaches a server; it is deflated when the browser can.

function toBase64Url(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function pipe(bytes, stream) {
  const piped = new Blob([bytes]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(piped).arrayBuffer());
}

/** `z.` + deflated JSON, or `j.` + plain JSON where CompressionStream is missing. */
export async function encodeState(state) {
  const bytes = new TextEncoder().encode(JSON.stringify(state));
  if (typeof CompressionStream === 'function') {
    return 'z.' + toBase64Url(await pipe(bytes, new CompressionStream('deflate-raw')));
  }
  return 'j.' + toBase64Url(bytes);
}

/** The state from a fragment (with or without `#`), or null when it holds none. */
export async function decodeState(fragment) {
  const text = fragment.replace(/^#/, '');
  const dot = text.indexOf('.');
  if (dot < 0) return null;
  const kind = text.slice(0, dot);
  let bytes = fromBase64Url(text.slice(dot + 1));
  if (kind === 'z') {
    if (typeof DecompressionStream !== 'function') throw new Error('this browser cannot read compressed links');
    bytes = await pipe(bytes, new DecompressionStream('deflate-raw'));
  } else if (kind !== 'j') {
    return null;
  }
  return JSON.parse(new TextDecoder().decode(bytes));
}
