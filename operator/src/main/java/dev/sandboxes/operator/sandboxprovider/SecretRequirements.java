package dev.sandboxes.operator.sandboxprovider;

import dev.sandboxes.api.v1alpha1.SandboxProviderSpec;
import dev.sandboxes.operator.provider.ReferencedObjects;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The Secrets and keys a provider spec refers to, and their resolution. Messages name the Secret,
 * the key and the field, never a value.
 */
public final class SecretRequirements {

  /** A needed key of a Secret and the spec field that asks for it. */
  public record Requirement(String secretName, String key, String field) {}

  /** Resolved Secret data by name, or the first problem. */
  public record Resolution(Map<String, Map<String, String>> secrets, String problem) {
    public boolean ok() {
      return problem == null;
    }
  }

  private SecretRequirements() {}

  /** What a spec needs, in field order. */
  public static List<Requirement> of(SandboxProviderSpec spec) {
    List<Requirement> needed = new ArrayList<>();
    if (spec == null || spec.getType() == null) {
      return needed;
    }
    switch (spec.getType()) {
      case DOCKER -> {
        if (spec.getDocker() != null && spec.getDocker().getTlsSecretRef() != null) {
          String name = spec.getDocker().getTlsSecretRef().getName();
          for (String key : List.of("ca.crt", "tls.crt", "tls.key")) {
            needed.add(new Requirement(name, key, "spec.docker.tlsSecretRef"));
          }
        }
      }
      case ALIYUN -> {
        if (spec.getAliyun() != null && spec.getAliyun().getCredentialsSecretRef() != null) {
          String name = spec.getAliyun().getCredentialsSecretRef().getName();
          for (String key : List.of("accessKeyId", "accessKeySecret", "accountId")) {
            needed.add(new Requirement(name, key, "spec.aliyun.credentialsSecretRef"));
          }
        }
      }
      case E2B -> {
        if (spec.getE2b() != null && spec.getE2b().getApiKeySecretRef() != null) {
          needed.add(
              new Requirement(
                  spec.getE2b().getApiKeySecretRef().getName(),
                  spec.getE2b().getApiKeySecretRef().getKey(),
                  "spec.e2b.apiKeySecretRef"));
        }
      }
      case SELF_MANAGED -> {
        // no credentials: the operator's own service account creates the pods
      }
    }
    return needed;
  }

  /** Names of the Secrets a spec refers to (for the Secret informer's index). */
  public static List<String> secretNames(SandboxProviderSpec spec) {
    return of(spec).stream().map(Requirement::secretName).distinct().toList();
  }

  /** Looks every requirement up. */
  public static Resolution resolve(
      String namespace, SandboxProviderSpec spec, ReferencedObjects objects) {
    Map<String, Map<String, String>> found = new LinkedHashMap<>();
    for (Requirement requirement : of(spec)) {
      Map<String, String> data = found.get(requirement.secretName());
      if (data == null) {
        Optional<Map<String, String>> secret = objects.secret(namespace, requirement.secretName());
        if (secret.isEmpty()) {
          return new Resolution(
              Map.of(),
              "Secret "
                  + requirement.secretName()
                  + " ("
                  + requirement.field()
                  + ") does not exist in namespace "
                  + namespace
                  + "; create it");
        }
        // As returned: the run command's map from environment variables finds camelCase keys
        // case-insensitively, which a copy would lose.
        data = secret.get();
        found.put(requirement.secretName(), data);
      }
      String value = data.get(requirement.key());
      if (value == null || value.isEmpty()) {
        return new Resolution(
            Map.of(),
            "Secret "
                + requirement.secretName()
                + " has no key "
                + requirement.key()
                + " ("
                + requirement.field()
                + "); add it");
      }
    }
    return new Resolution(found, null);
  }
}
