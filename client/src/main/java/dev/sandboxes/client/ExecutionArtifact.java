package dev.sandboxes.client;

/**
 * One file an execution left in its output directory (SANDBOX_OUTPUT_DIR).
 *
 * @param name the path relative to the output directory, e.g. {@code figure-1.png}
 * @param sizeBytes the file's size
 * @param sha256 lower-case hex SHA-256 of the file, as the operator computed it
 * @param contentType media type guessed from the name, e.g. {@code image/png}
 * @param bytes the content, read from the execution's artifacts ConfigMap; null when it could not
 *     be read (deleted, or the client may not get ConfigMaps)
 */
public record ExecutionArtifact(
    String name, long sizeBytes, String sha256, String contentType, byte[] bytes) {}
