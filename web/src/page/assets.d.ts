// What the web build (scripts/build-web.mjs) lets the page import besides code.

/** A model file, bundled as its text. */
declare module '*.mdl' {
  const text: string;
  export default text;
}

/** A style sheet, bundled into app.css. */
declare module '*.css' {}
