package dev.sandboxes.operator.backend.aliyun;

/**
 * The AccessKey pair and account of an Aliyun provider, read from its credentials Secret. Never
 * printed: toString shows no value.
 */
public record AliyunCredentials(String accessKeyId, String accessKeySecret, String accountId) {

  @Override
  public String toString() {
    return "AliyunCredentials[redacted]";
  }
}
