// hookd's icon, drawn in code: a 16×16 ICO (one 32-bit BMP image), so /favicon.ico answers
// without a file to ship and browsers stop logging a 404 on every page.

const SIZE = 16;
const ACCENT = [0x0b, 0x57, 0xd0]; // the dashboard's --accent (#0b57d0)

/** A rounded square in the accent colour with a white hook ("J" shape) in it. */
function pixel(x: number, y: number): [number, number, number, number] {
  const cx = Math.min(x, SIZE - 1 - x);
  const cy = Math.min(y, SIZE - 1 - y);
  if (cx + cy < 2) return [0, 0, 0, 0]; // the rounded corners are transparent
  const hook = (x >= 9 && x <= 10 && y >= 3 && y <= 10) || (y >= 10 && y <= 11 && x >= 5 && x <= 10) || (x >= 5 && x <= 6 && y >= 8 && y <= 11);
  return hook ? [255, 255, 255, 255] : [ACCENT[0], ACCENT[1], ACCENT[2], 255];
}

function build(): Buffer {
  const pixels = SIZE * SIZE * 4;
  const mask = SIZE * 4; // 1 bit per pixel, rows padded to 4 bytes: all 0 (the alpha channel decides)
  const image = 40 + pixels + mask;
  const ico = Buffer.alloc(6 + 16 + image);
  ico.writeUInt16LE(0, 0);
  ico.writeUInt16LE(1, 2); // icon
  ico.writeUInt16LE(1, 4); // one image
  ico.writeUInt8(SIZE, 6);
  ico.writeUInt8(SIZE, 7);
  ico.writeUInt16LE(1, 10); // planes
  ico.writeUInt16LE(32, 12); // bits per pixel
  ico.writeUInt32LE(image, 14);
  ico.writeUInt32LE(22, 18); // offset of the image
  const bmp = 22;
  ico.writeUInt32LE(40, bmp);
  ico.writeInt32LE(SIZE, bmp + 4);
  ico.writeInt32LE(SIZE * 2, bmp + 8); // height counts the image and its mask
  ico.writeUInt16LE(1, bmp + 12);
  ico.writeUInt16LE(32, bmp + 14);
  ico.writeUInt32LE(pixels + mask, bmp + 20);
  let at = bmp + 40;
  // Bottom-up rows, BGRA.
  for (let y = SIZE - 1; y >= 0; y--) {
    for (let x = 0; x < SIZE; x++) {
      const [r, g, b, a] = pixel(x, y);
      ico.writeUInt8(b, at++);
      ico.writeUInt8(g, at++);
      ico.writeUInt8(r, at++);
      ico.writeUInt8(a, at++);
    }
  }
  return ico;
}

export const FAVICON_ICO: Buffer = build();
