/**
 * Chevrotain in a browser bundle: the web build (scripts/build-web.mjs) puts this file in the
 * place of chevrotain.ts, which finds the package's single-file build through Node's module
 * resolver; a bundler resolves the package itself. Same exports as chevrotain.ts.
 */
import * as library from 'chevrotain';

export type Chevrotain = typeof import('chevrotain');

export const chevrotain: Chevrotain = library;
