import net from 'node:net';

/**
 * Asks the kernel for a free TCP port on `host`. Another process can take it before
 * llama-server binds it; llama-server then exits 1 ("couldn't bind HTTP server
 * socket") and the supervisor's restart picks a fresh port.
 */
export function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the probe socket address'));
      });
    });
  });
}
