package dev.sandboxes.operator.backend.docker;

import com.github.dockerjava.transport.SSLConfig;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Collection;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/**
 * Mutual TLS for a tcp:// Docker endpoint from a Secret's ca.crt, tls.crt and tls.key, kept in
 * memory only (nothing from the Secret is written to disk or logged).
 */
final class PemSslConfig implements SSLConfig {

  private final SSLContext context;

  PemSslConfig(String caPem, String certPem, String keyPem) {
    try {
      CertificateFactory certificates = CertificateFactory.getInstance("X.509");
      KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
      trust.load(null, null);
      int index = 0;
      for (Certificate ca : certificates.generateCertificates(stream(caPem))) {
        trust.setCertificateEntry("ca-" + index++, ca);
      }
      Collection<? extends Certificate> chain = certificates.generateCertificates(stream(certPem));
      char[] password = new char[0];
      KeyStore keys = KeyStore.getInstance(KeyStore.getDefaultType());
      keys.load(null, null);
      keys.setKeyEntry("client", privateKey(keyPem), password, chain.toArray(new Certificate[0]));
      KeyManagerFactory keyManagers =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      keyManagers.init(keys, password);
      TrustManagerFactory trustManagers =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      trustManagers.init(trust);
      context = SSLContext.getInstance("TLS");
      context.init(keyManagers.getKeyManagers(), trustManagers.getTrustManagers(), null);
    } catch (GeneralSecurityException | IOException e) {
      // The message says which part is wrong, never the material itself.
      throw new IllegalArgumentException(
          "the TLS Secret's ca.crt, tls.crt or tls.key is not valid PEM: "
              + e.getClass().getSimpleName(),
          e);
    }
  }

  @Override
  public SSLContext getSSLContext() {
    return context;
  }

  private static PrivateKey privateKey(String pem) throws IOException {
    try (PEMParser parser = new PEMParser(new StringReader(pem))) {
      Object parsed = parser.readObject();
      JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
      if (parsed instanceof PEMKeyPair pair) {
        return converter.getKeyPair(pair).getPrivate();
      }
      if (parsed instanceof PrivateKeyInfo info) {
        return converter.getPrivateKey(info);
      }
      throw new IOException("tls.key holds no private key");
    }
  }

  private static ByteArrayInputStream stream(String pem) {
    return new ByteArrayInputStream(pem.getBytes(StandardCharsets.UTF_8));
  }
}
