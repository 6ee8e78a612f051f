package dev.sandboxes.operator.testing;

import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.v1alpha1.AliyunSpec;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.CodeExecutionSpec;
import dev.sandboxes.api.v1alpha1.DockerSpec;
import dev.sandboxes.api.v1alpha1.E2bSpec;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.api.v1alpha1.ProviderReference;
import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.api.v1alpha1.SandboxProvider;
import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.api.v1alpha1.SecretKeyReference;
import dev.sandboxes.api.v1alpha1.SecretReference;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import java.util.Map;

/** Builders for the objects tests use. */
public final class TestResources {

  private TestResources() {}

  /** A Docker provider pointing at a host tests replace with a fake backend. */
  public static SandboxProvider aDockerProvider(String namespace, String name) {
    SandboxProvider provider = new SandboxProvider();
    provider.setMetadata(new ObjectMetaBuilder().withNamespace(namespace).withName(name).build());
    SandboxProviderSpec spec = new SandboxProviderSpec();
    spec.setType(ProviderType.DOCKER);
    DockerSpec docker = new DockerSpec();
    docker.setHost("unix:///fake/docker.sock");
    spec.setDocker(docker);
    provider.setSpec(spec);
    return provider;
  }

  /** A SelfManaged provider keeping {@code poolSize} idle pods of the default runtime image. */
  public static SandboxProvider aSelfManagedProvider(String namespace, String name, int poolSize) {
    SandboxProvider provider = new SandboxProvider();
    provider.setMetadata(new ObjectMetaBuilder().withNamespace(namespace).withName(name).build());
    SandboxProviderSpec spec = new SandboxProviderSpec();
    spec.setType(ProviderType.SELF_MANAGED);
    dev.sandboxes.api.v1alpha1.SelfManagedSpec selfManaged =
        new dev.sandboxes.api.v1alpha1.SelfManagedSpec();
    selfManaged.setPoolSize(poolSize);
    spec.setSelfManaged(selfManaged);
    provider.setSpec(spec);
    return provider;
  }

  /** An E2B provider whose API key is key {@code apiKey} of Secret {@code secretName}. */
  public static SandboxProvider anE2bProvider(
      String namespace, String name, String apiUrl, String secretName) {
    SandboxProvider provider = new SandboxProvider();
    provider.setMetadata(new ObjectMetaBuilder().withNamespace(namespace).withName(name).build());
    SandboxProviderSpec spec = new SandboxProviderSpec();
    spec.setType(ProviderType.E2B);
    E2bSpec e2b = new E2bSpec();
    SecretKeyReference key = new SecretKeyReference();
    key.setName(secretName);
    key.setKey("apiKey");
    e2b.setApiKeySecretRef(key);
    e2b.setApiUrl(apiUrl);
    spec.setE2b(e2b);
    provider.setSpec(spec);
    return provider;
  }

  /** An Aliyun provider whose endpoints point at a fake AgentRun service. */
  public static SandboxProvider anAliyunProvider(
      String namespace, String name, FakeAgentRunServer fake) {
    SandboxProvider provider = new SandboxProvider();
    provider.setMetadata(new ObjectMetaBuilder().withNamespace(namespace).withName(name).build());
    SandboxProviderSpec spec = new SandboxProviderSpec();
    spec.setType(ProviderType.ALIYUN);
    AliyunSpec aliyun = new AliyunSpec();
    SecretReference secret = new SecretReference();
    secret.setName(ALIYUN_SECRET);
    aliyun.setCredentialsSecretRef(secret);
    aliyun.setControlEndpoint(fake.controlEndpoint());
    aliyun.setDataEndpoint(fake.dataEndpoint());
    spec.setAliyun(aliyun);
    provider.setSpec(spec);
    return provider;
  }

  /** A Secret holding one string value under {@code key}. */
  public static Secret aSecret(String namespace, String name, String key, String value) {
    return new SecretBuilder()
        .withNewMetadata()
        .withNamespace(namespace)
        .withName(name)
        .endMetadata()
        .withStringData(Map.of(key, value))
        .build();
  }

  /** Name of the credentials Secret of {@link #anAliyunProvider}. */
  public static final String ALIYUN_SECRET = "aliyun-credentials";

  /**
   * The credentials Secret's data for the fake AgentRun service (or other values, to be rejected).
   */
  public static Map<String, String> aliyunCredentials(String accessKeyId, String accessKeySecret) {
    return Map.of(
        "accessKeyId",
        accessKeyId,
        "accessKeySecret",
        accessKeySecret,
        "accountId",
        FakeAgentRunServer.ACCOUNT_ID);
  }

  /** The credentials Secret as an object, for tests on a (mock) API server. */
  public static io.fabric8.kubernetes.api.model.Secret aliyunSecret(String namespace) {
    return new io.fabric8.kubernetes.api.model.SecretBuilder()
        .withNewMetadata()
        .withNamespace(namespace)
        .withName(ALIYUN_SECRET)
        .endMetadata()
        .addToStringData(
            aliyunCredentials(
                FakeAgentRunServer.ACCESS_KEY_ID, FakeAgentRunServer.ACCESS_KEY_SECRET))
        .build();
  }

  public static SandboxProvider asDefault(SandboxProvider provider) {
    provider.getMetadata().setAnnotations(Map.of(ApiConstants.DEFAULT_PROVIDER_ANNOTATION, "true"));
    return provider;
  }

  /** A Python execution on a named provider. */
  public static CodeExecution anExecution(String namespace, String name, String provider) {
    CodeExecution cx = new CodeExecution();
    cx.setMetadata(new ObjectMetaBuilder().withNamespace(namespace).withName(name).build());
    CodeExecutionSpec spec = new CodeExecutionSpec();
    if (provider != null) {
      ProviderReference ref = new ProviderReference();
      ref.setName(provider);
      spec.setProviderRef(ref);
    }
    spec.setLanguage(Language.PYTHON);
    spec.setCode("def main(x):\n    return x\n");
    spec.setArguments(Map.of("x", 1));
    cx.setSpec(spec);
    return cx;
  }
}
