package dev.sandboxes.operator.backend.selfmanaged;

import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.operator.provider.ProviderSettings;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The sandbox pod of one runtime: locked down, idling until an execution is exec'd into it, and
 * labelled with a hash of its template so that a changed image or size rolls the idle pods.
 */
final class SandboxPodTemplate {

  /** Name of the one container of a sandbox pod. */
  static final String CONTAINER = "sandbox";

  /** Label holding the hash of the pod template a pod was made from. */
  static final String TEMPLATE_HASH_LABEL = ApiConstants.GROUP + "/template-hash";

  /** Annotation holding when a pod was claimed, so that forgotten claims can be swept. */
  static final String CLAIMED_AT_ANNOTATION = ApiConstants.GROUP + "/claimed-at";

  static final String STATE_IDLE = "idle";
  static final String STATE_CLAIMED = "claimed";

  /**
   * The standard label, besides the sandboxes.dev one, so that generic tooling recognises the pods.
   */
  static final String APP_MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";

  /**
   * The runtime image's sandbox user, as spec.runtimes[].image documents it (and the Docker
   * provider uses).
   */
  static final long RUN_AS_USER = 1000L;

  /** CPU requested by a sandbox pod (at most its limit); see podSpec. */
  static final Quantity IDLE_CPU_REQUEST = new Quantity("100m");

  private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final String NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

  private final ProviderSettings provider;
  private final String providerUid;
  private final Language language;
  private final PodSpec spec;
  private final String hash;

  SandboxPodTemplate(
      ProviderSettings provider,
      String providerUid,
      SelfManagedSettings settings,
      Language language,
      String image) {
    this.provider = provider;
    this.providerUid = providerUid;
    this.language = language;
    this.spec = podSpec(settings, image);
    this.hash = hashOf(language, spec);
  }

  Language language() {
    return language;
  }

  String hash() {
    return hash;
  }

  String image() {
    return spec.getContainers().get(0).getImage();
  }

  /** A new idle pod with a fresh name. */
  Pod newPod() {
    Map<String, String> labels = new LinkedHashMap<>(selectorLabels(provider, providerUid));
    labels.put(ApiConstants.LANGUAGE_LABEL, language.value());
    labels.put(ApiConstants.STATE_LABEL, STATE_IDLE);
    labels.put(TEMPLATE_HASH_LABEL, hash);
    return new PodBuilder()
        .withNewMetadata()
        .withName(newName())
        .withNamespace(provider.namespace())
        .withLabels(labels)
        .withOwnerReferences(ownerReference(provider, providerUid))
        .endMetadata()
        .withSpec(new PodSpecBuilder(spec).build())
        .build();
  }

  /** Labels every object of the provider carries; the provider-uid one selects them. */
  static Map<String, String> selectorLabels(ProviderSettings provider, String providerUid) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(APP_MANAGED_BY_LABEL, ApiConstants.MANAGED_BY_VALUE);
    labels.put(ApiConstants.MANAGED_BY_LABEL, ApiConstants.MANAGED_BY_VALUE);
    labels.put(ApiConstants.PROVIDER_LABEL, labelValue(provider.name()));
    labels.put(ApiConstants.PROVIDER_UID_LABEL, providerUid);
    return labels;
  }

  /**
   * Owner reference to the SandboxProvider, so that the garbage collector removes its pods and
   * policy with it. Not blocking deletion: that would need update rights on the provider's
   * finalizers.
   */
  static OwnerReference ownerReference(ProviderSettings provider, String providerUid) {
    return new OwnerReferenceBuilder()
        .withApiVersion(ApiConstants.API_VERSION)
        .withKind(ApiConstants.KIND_SANDBOX_PROVIDER)
        .withName(provider.name())
        .withUid(providerUid)
        .withController(true)
        .build();
  }

  private String newName() {
    StringBuilder suffix = new StringBuilder(8);
    for (int i = 0; i < 8; i++) {
      suffix.append(NAME_ALPHABET.charAt(RANDOM.nextInt(NAME_ALPHABET.length())));
    }
    String prefix =
        provider.name().length() > 40 ? provider.name().substring(0, 40) : provider.name();
    prefix = prefix.replaceAll("[^a-z0-9-]", "-").replaceAll("-+$", "");
    String lang = language == Language.PYTHON ? "py" : "js";
    return "sbx-" + prefix + "-" + lang + "-" + suffix;
  }

  /**
   * Label values hold at most 63 characters and must end alphanumeric; provider names may be
   * longer.
   */
  static String labelValue(String value) {
    String cut = value.length() > 63 ? value.substring(0, 63) : value;
    return cut.replaceAll("[^A-Za-z0-9]+$", "");
  }

  /** The CPU a pool pod requests: {@link #IDLE_CPU_REQUEST}, or the limit when that is lower. */
  static Quantity cpuRequest(Quantity limit) {
    return Quantity.getAmountInBytes(limit).compareTo(Quantity.getAmountInBytes(IDLE_CPU_REQUEST))
            < 0
        ? limit
        : IDLE_CPU_REQUEST;
  }

  private static PodSpec podSpec(SelfManagedSettings settings, String image) {
    Map<String, Quantity> limits = new LinkedHashMap<>();
    limits.put("cpu", new Quantity(settings.cpu()));
    limits.put("memory", new Quantity(settings.memory()));
    limits.put("ephemeral-storage", new Quantity(settings.ephemeralStorage()));
    // An idle pool pod sleeps: requesting its whole CPU limit would let a few warm pods fill a
    // node's allocatable CPU and leave the rest unschedulable. Memory and storage are requested
    // in full, so a running sandbox is never evicted or OOM-killed for another pod's sake.
    Map<String, Quantity> requests = new LinkedHashMap<>(limits);
    requests.put("cpu", cpuRequest(limits.get("cpu")));
    return new PodSpecBuilder()
        .withRuntimeClassName(settings.runtimeClassName())
        .withAutomountServiceAccountToken(false)
        .withEnableServiceLinks(false)
        .withRestartPolicy("Never")
        // The container idles in sleep, which ignores SIGTERM: a grace period would only delay
        // deletion.
        .withTerminationGracePeriodSeconds(0L)
        .withNodeSelector(settings.nodeSelector().isEmpty() ? null : settings.nodeSelector())
        .withTolerations(settings.tolerations().isEmpty() ? null : settings.tolerations())
        .withNewSecurityContext()
        .withRunAsNonRoot(true)
        .withRunAsUser(RUN_AS_USER)
        .withRunAsGroup(RUN_AS_USER)
        .withFsGroup(RUN_AS_USER)
        .withNewSeccompProfile()
        .withType("RuntimeDefault")
        .endSeccompProfile()
        .endSecurityContext()
        .addNewContainer()
        .withName(CONTAINER)
        .withImage(image)
        // Never pull an image that is present: sandbox images are pinned by tag and pulls cost
        // latency.
        .withImagePullPolicy("IfNotPresent")
        .withCommand("sleep", "infinity")
        .withWorkingDir("/tmp")
        .addNewEnv()
        .withName("HOME")
        .withValue("/tmp")
        .endEnv()
        .addNewEnv()
        .withName("LANG")
        .withValue("C.UTF-8")
        .endEnv()
        .addNewEnv()
        .withName("PYTHONDONTWRITEBYTECODE")
        .withValue("1")
        .endEnv()
        .withNewResources()
        .withRequests(requests)
        .withLimits(limits)
        .endResources()
        .withNewSecurityContext()
        .withRunAsNonRoot(true)
        .withRunAsUser(RUN_AS_USER)
        .withReadOnlyRootFilesystem(true)
        .withAllowPrivilegeEscalation(false)
        .withPrivileged(false)
        .withNewCapabilities()
        .withDrop("ALL")
        .endCapabilities()
        .withNewSeccompProfile()
        .withType("RuntimeDefault")
        .endSeccompProfile()
        .endSecurityContext()
        .addNewVolumeMount()
        .withName("tmp")
        .withMountPath("/tmp")
        .endVolumeMount()
        .endContainer()
        .addNewVolume()
        .withName("tmp")
        .withNewEmptyDir()
        .withSizeLimit(new Quantity(settings.ephemeralStorage()))
        .endEmptyDir()
        .endVolume()
        .build();
  }

  private static String hashOf(Language language, PodSpec spec) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      digest.update(language.value().getBytes(StandardCharsets.UTF_8));
      digest.update(SERIALIZATION.asJson(spec).getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest.digest()).substring(0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
