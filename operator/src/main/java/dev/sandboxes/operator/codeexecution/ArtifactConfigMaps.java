package dev.sandboxes.operator.codeexecution;

import dev.sandboxes.api.ApiConstants;
import dev.sandboxes.api.v1alpha1.ArtifactStatus;
import dev.sandboxes.api.v1alpha1.CodeExecution;
import dev.sandboxes.api.v1alpha1.ConfigMapKeyReference;
import dev.sandboxes.operator.runner.Artifact;
import dev.sandboxes.operator.runner.CollectedArtifacts;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The ConfigMap {@code <execution-name>-artifacts} that holds an execution's files (one binaryData
 * key per file), owned by the CodeExecution so that deleting the execution deletes it, and the
 * status entries that point into it. Pure: nothing here talks to the API server.
 */
public final class ArtifactConfigMaps {

  /** Label on artifact ConfigMaps: the uid of the CodeExecution they belong to. */
  public static final String EXECUTION_UID_LABEL = ApiConstants.GROUP + "/execution-uid";

  private static final int MAX_NAME = 253;
  private static final String SUFFIX = "-artifacts";

  private ArtifactConfigMaps() {}

  /**
   * The ConfigMap's name: {@code <execution-name>-artifacts}, shortened with a hash if too long.
   */
  public static String configMapName(String executionName) {
    if (executionName.length() + SUFFIX.length() <= MAX_NAME) {
      return executionName + SUFFIX;
    }
    String hash = sha256(executionName).substring(0, 10);
    return executionName.substring(0, MAX_NAME - SUFFIX.length() - hash.length() - 1)
        + "-"
        + hash
        + SUFFIX;
  }

  /**
   * A ConfigMap key per file: the relative path with every character a key cannot hold ({@code
   * [-._a-zA-Z0-9]}, so also {@code /}) replaced by {@code _}, made unique with a suffix.
   */
  public static Map<Artifact, String> keys(List<Artifact> files) {
    Map<Artifact, String> keys = new LinkedHashMap<>();
    Set<String> taken = new HashSet<>();
    for (Artifact file : files) {
      String base = sanitize(file.name());
      String key = base;
      for (int n = 2; !taken.add(key); n++) {
        key = base + "-" + n;
      }
      keys.put(file, key);
    }
    return keys;
  }

  static String sanitize(String name) {
    StringBuilder key = new StringBuilder();
    for (char c : name.toCharArray()) {
      key.append(
          c < 128 && (Character.isLetterOrDigit(c) || c == '-' || c == '.' || c == '_') ? c : '_');
    }
    String text =
        key.length() > 200
            ? key.substring(0, 189) + "-" + sha256(name).substring(0, 10)
            : key.toString();
    // "." and ".." are not valid keys.
    return text.equals(".") || text.equals("..") ? text.replace('.', '_') : text;
  }

  /** The ConfigMap holding {@code files}, owned by {@code cx}. */
  public static ConfigMap build(CodeExecution cx, List<Artifact> files) {
    Map<String, String> binaryData = new LinkedHashMap<>();
    keys(files)
        .forEach(
            (file, key) -> binaryData.put(key, Base64.getEncoder().encodeToString(file.content())));
    return new ConfigMapBuilder()
        .withNewMetadata()
        .withName(configMapName(cx.getMetadata().getName()))
        .withNamespace(cx.getMetadata().getNamespace())
        .addToLabels(ApiConstants.GROUP + "/artifacts-of", labelValue(cx.getMetadata().getName()))
        .addToLabels(EXECUTION_UID_LABEL, cx.getMetadata().getUid())
        .withOwnerReferences(
            new OwnerReferenceBuilder()
                .withApiVersion(
                    cx.getApiVersion() == null
                        ? ApiConstants.GROUP + "/" + ApiConstants.VERSION
                        : cx.getApiVersion())
                .withKind(cx.getKind() == null ? "CodeExecution" : cx.getKind())
                .withName(cx.getMetadata().getName())
                .withUid(cx.getMetadata().getUid())
                .withController(true)
                .build())
        .endMetadata()
        .withBinaryData(binaryData)
        .build();
  }

  /**
   * Status entries for {@code files} stored in ConfigMap {@code configMapName}, or without a
   * reference if null.
   */
  public static List<ArtifactStatus> statuses(List<Artifact> files, String configMapName) {
    List<ArtifactStatus> statuses = new ArrayList<>();
    keys(files)
        .forEach(
            (file, key) -> {
              ConfigMapKeyReference ref = null;
              if (configMapName != null) {
                ref = new ConfigMapKeyReference();
                ref.setName(configMapName);
                ref.setKey(key);
              }
              statuses.add(
                  new ArtifactStatus(
                      file.name(), file.sizeBytes(), file.sha256(), file.contentType(), ref));
            });
    return statuses;
  }

  /** The sentence the status message gets about the artifacts, or "" when there are none. */
  public static String summary(CollectedArtifacts artifacts, String configMapName) {
    StringBuilder text = new StringBuilder();
    int count = artifacts.files().size();
    if (count > 0) {
      text.append(count)
          .append(count == 1 ? " artifact" : " artifacts")
          .append(String.format(Locale.ROOT, " (%d bytes)", artifacts.totalBytes()));
      text.append(
          configMapName == null ? " collected." : " stored in ConfigMap " + configMapName + ".");
    }
    if (artifacts.truncated()) {
      text.append(text.length() > 0 ? " " : "")
          .append(
              "Files were left out at the provider's maxArtifacts or maxArtifactBytes (see the ArtifactsTruncated event).");
    }
    return text.toString();
  }

  private static String labelValue(String name) {
    return name.length() <= 63 ? name : name.substring(0, 52) + "-" + sha256(name).substring(0, 10);
  }

  private static String sha256(String text) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
