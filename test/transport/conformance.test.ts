import { afterAll } from 'vitest';
import { MemoryNetwork } from '../../src/testing/memory-network.js';
import { testTransportConformance } from '../../src/testing/transport-conformance.js';
import { createTestPki } from './certs.js';
import { tcpConformanceNetwork } from './tcp-network.js';

testTransportConformance({
  name: 'MemoryNetwork',
  create: () => {
    const net = new MemoryNetwork({ seed: 3 });
    return { transport: (id) => net.transport(id) };
  },
});

testTransportConformance({
  name: 'TcpTransport',
  create: tcpConformanceNetwork(),
});

const pki = createTestPki('conformance-ca');
const member = pki.issue('member');
afterAll(() => pki.dispose());

testTransportConformance({
  name: 'TcpTransport with mutual TLS',
  create: tcpConformanceNetwork({ tls: { key: member.key, cert: member.cert, ca: pki.ca } }),
});
