package dev.sandboxes.operator;

import dev.sandboxes.api.v1alpha1.ProviderType;
import dev.sandboxes.operator.backend.SandboxBackendFactory;
import dev.sandboxes.operator.backend.aliyun.AliyunSandboxBackend;
import dev.sandboxes.operator.backend.docker.DockerSandboxBackend;
import dev.sandboxes.operator.backend.e2b.E2bSandboxBackend;
import dev.sandboxes.operator.backend.selfmanaged.SelfManagedSandboxBackend;

/** The backend types this build offers, registered in one place. */
public final class Backends {

  private Backends() {}

  /** A factory with every available backend type. */
  public static SandboxBackendFactory factory() {
    return new SandboxBackendFactory()
        .register(ProviderType.SELF_MANAGED, SelfManagedSandboxBackend::new)
        .register(ProviderType.DOCKER, DockerSandboxBackend::new)
        .register(ProviderType.E2B, E2bSandboxBackend::new)
        .register(ProviderType.ALIYUN, AliyunSandboxBackend::new);
  }
}
