import express5 from 'express';

export const EXPRESS_LIBS = ['express', 'express4'] as const;
export type ExpressLib = (typeof EXPRESS_LIBS)[number];

/**
 * Express 5, or Express 4 (installed under the npm alias `express4`). agentKeyAuth imports nothing
 * from Express at runtime, so an app of either version can mount it as is.
 */
export async function loadExpress(lib: ExpressLib): Promise<typeof express5> {
  return lib === 'express' ? express5 : ((await import(lib as string)).default as typeof express5);
}
