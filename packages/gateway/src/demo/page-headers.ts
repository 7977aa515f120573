import type { FastifyHelmetOptions } from '@fastify/helmet';

/*
 * The demo page's security headers, by @fastify/helmet: a Content Security Policy that lets the page
 * load only its own files and talk only to its own origin (Socket.IO's polling and WebSocket — CSP's
 * 'self' covers ws:/wss: of the same host), no framing by other sites (clickjacking), no referrer
 * sent anywhere. The page has no inline script or style, so nothing needs 'unsafe-inline'. HSTS is
 * left to the TLS-terminating proxy, which knows whether the site is served over https.
 */
export const DEMO_PAGE_HEADERS: FastifyHelmetOptions = {
  global: true,
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      fontSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  },
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
  strictTransportSecurity: false,
};
