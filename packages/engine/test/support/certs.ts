import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/**
 * Certificates made at test time (no private key is committed). Node's crypto makes the
 * RSA keys (fast, native); node-forge builds and signs the X.509 certificates, which
 * Node cannot do by itself.
 */
export interface Pem {
  cert: string;
  key: string;
}

export interface CertOptions {
  commonName: string;
  /** e.g. ['DNS:api.test', 'URI:spiffe://test/api', 'IP:127.0.0.1', 'EMAIL:a@test'] */
  sans?: string[];
  /** signed by this CA; self-signed CA when omitted */
  issuer?: Pem;
  isCa?: boolean;
  /** days from now; negative for an expired certificate */
  days?: number;
}

function rsaKey(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privatePem: privateKey, publicPem: publicKey };
}

const SAN_TYPES: Record<string, number> = { EMAIL: 1, DNS: 2, URI: 6, IP: 7 };

export function makeCert(options: CertOptions): Pem {
  const keys = rsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
  cert.serialNumber = '01' + randomBytes(8).toString('hex');
  const days = options.days ?? 30;
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - 24 * 3600 * 1000 + (days < 0 ? days * 2 * 86400_000 : 0));
  cert.validity.notAfter = new Date(now.getTime() + days * 86400_000);
  // Most general first, as CAs write them; RFC 2253 prints them the other way round (CN first).
  const subject = [{ name: 'organizationName', value: 'ProxyScope test' }, { name: 'commonName', value: options.commonName }];
  cert.setSubject(subject);
  const issuerCert = options.issuer ? forge.pki.certificateFromPem(options.issuer.cert) : undefined;
  cert.setIssuer(issuerCert ? issuerCert.subject.attributes : subject);
  const extensions: object[] = [];
  if (options.isCa) {
    extensions.push({ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true });
  } else {
    extensions.push(
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    );
  }
  if (options.sans?.length) {
    extensions.push({
      name: 'subjectAltName',
      altNames: options.sans.map((san) => {
        const at = san.indexOf(':');
        const kind = san.slice(0, at);
        const value = san.slice(at + 1);
        const type = SAN_TYPES[kind];
        if (type === undefined) throw new Error(`unknown SAN kind ${kind}`);
        return type === 7 ? { type, ip: value } : { type, value };
      }),
    });
  }
  cert.setExtensions(extensions);
  const signer = options.issuer ? forge.pki.privateKeyFromPem(options.issuer.key) : forge.pki.privateKeyFromPem(keys.privatePem);
  cert.sign(signer, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: keys.privatePem };
}

/** A CA and a few leaves signed by it, made once per test file. */
export function makeCa(commonName = 'ProxyScope Test CA'): Pem {
  return makeCert({ commonName, isCa: true, days: 30 });
}
