/**
 * Test certificates, made with the openssl command line at test time into a
 * temporary directory: a CA, and certificates it signs for nodes, valid for
 * 127.0.0.1 and localhost, usable as both TLS server and client (mutual
 * TLS). EC P-256 keys, so generating them takes milliseconds.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyPair {
  readonly key: string;
  readonly cert: string;
}

export interface TestPki {
  /** The CA certificate (PEM). */
  readonly ca: string;
  /** A key and certificate signed by this CA for `name`. */
  issue(name: string): KeyPair;
  /** Deletes the temporary directory. */
  dispose(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Makes a fresh CA named `caName`. */
export function createTestPki(caName: string): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'bellwether-pki-'));
  openssl(
    [
      'req',
      '-x509',
      ...EC,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '3650',
      '-subj',
      `/CN=${caName}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  const ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
  let serial = 0;
  return {
    ca,
    issue(name) {
      const base = `node-${++serial}`;
      writeFileSync(
        join(dir, `${base}.ext`),
        'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n',
      );
      openssl(['req', ...EC, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${name}`], dir);
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${base}.csr`,
          '-CA',
          'ca.crt',
          '-CAkey',
          'ca.key',
          '-set_serial',
          `0x${randomBytes(8).toString('hex')}`,
          '-days',
          '3650',
          '-out',
          `${base}.crt`,
          '-extfile',
          `${base}.ext`,
        ],
        dir,
      );
      return {
        key: readFileSync(join(dir, `${base}.key`), 'utf8'),
        cert: readFileSync(join(dir, `${base}.crt`), 'utf8'),
      };
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
