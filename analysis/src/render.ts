import { existsSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Fonts tried for PNG text, first found wins; ANALYSIS_FONT overrides. */
const FONT_CANDIDATES = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/TTF/DejaVuSans.ttf',
  '/Library/Fonts/Arial.ttf',
  '/System/Library/Fonts/Supplemental/Arial.ttf',
  'C:\\Windows\\Fonts\\arial.ttf',
];

/**
 * The font file resvg draws text with. Without one resvg silently drops every label, so a
 * missing font is an error that says how to get one.
 */
export function findFont(env: Record<string, string | undefined> = process.env): string {
  const font = [env.ANALYSIS_FONT, ...FONT_CANDIDATES].find((path) => path && existsSync(path));
  if (!font)
    throw new Error(
      'no font for PNG charts: install one (apt-get install fonts-dejavu-core) or set ANALYSIS_FONT to a .ttf file',
    );
  return font;
}

/** Vega-Lite → Vega → SVG, headless (no browser, no canvas). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** SVG → PNG at 2× with a white background and the given font for every text. */
export function renderPng(svg: string, fontFile: string): Uint8Array {
  const family = /dejavu/i.test(fontFile) ? 'DejaVu Sans' : 'Arial';
  const resvg = new Resvg(svg, {
    background: 'white',
    fitTo: { mode: 'zoom', value: 2 },
    font: { fontFiles: [fontFile], loadSystemFonts: false, defaultFontFamily: family, sansSerifFamily: family },
  });
  return resvg.render().asPng();
}
