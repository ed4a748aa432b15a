// docs/SECURITY.md: without a token a listener may bind only to loopback. One
// rule for the HTTP, gRPC and tail ports.
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
