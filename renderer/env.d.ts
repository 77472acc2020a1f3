/** Asset imports resolved by vite to a URL. */
declare module '*.svg' {
  const url: string;
  export default url;
}
