package dev.sandboxes.operator.backend.aliyun;

import dev.sandboxes.api.v1alpha1.AliyunEgress;
import dev.sandboxes.api.v1alpha1.AliyunSpec;
import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.operator.provider.BackendContext;
import dev.sandboxes.operator.provider.ProviderSettings;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * An Aliyun provider's settings with defaults applied: region, the two endpoints, the credentials,
 * the network access its sandboxes may have, and the template each language runs in.
 *
 * @param controlEndpoint base URI of the control plane (templates, sandboxes), no path
 * @param dataEndpoint base URI of the data plane (files, processes), maybe with a path prefix
 * @param templates template name per served language
 * @param templateConfigured per language: true when the spec names the template (it must exist),
 *     false for the operator's default template (created when missing)
 * @param egress DENY (default): every template must have networkMode PRIVATE
 */
public record AliyunSettings(
    String region,
    URI controlEndpoint,
    URI dataEndpoint,
    AliyunCredentials credentials,
    Map<Language, String> templates,
    Map<Language, Boolean> templateConfigured,
    AliyunEgress egress) {

  public static final String DEFAULT_REGION = "cn-hangzhou";

  /**
   * The code-interpreter template the operator creates (once per account and region) when none is
   * named and egress is Deny: networkMode PRIVATE.
   */
  public static final String DEFAULT_TEMPLATE = "sandbox-operator-code-interpreter-private";

  /**
   * The operator's template for providers with egress Internet: networkMode PUBLIC. (Operator
   * versions before egress existed created this name for every provider.)
   */
  public static final String DEFAULT_INTERNET_TEMPLATE = "sandbox-operator-code-interpreter";

  private static final java.util.regex.Pattern ACCOUNT_ID =
      java.util.regex.Pattern.compile("^[0-9A-Za-z-]{1,64}$");

  public static AliyunSettings of(BackendContext context) {
    AliyunSpec spec = context.spec().getAliyun();
    String region =
        spec.getRegion() == null || spec.getRegion().isBlank() ? DEFAULT_REGION : spec.getRegion();
    String secret = spec.getCredentialsSecretRef().getName();
    AliyunEgress egress = spec.getEgress() == null ? AliyunEgress.DENY : spec.getEgress();
    String defaultTemplate =
        egress == AliyunEgress.INTERNET ? DEFAULT_INTERNET_TEMPLATE : DEFAULT_TEMPLATE;
    AliyunCredentials credentials =
        new AliyunCredentials(
            context.secretValue(secret, "accessKeyId"),
            context.secretValue(secret, "accessKeySecret"),
            context.secretValue(secret, "accountId"));
    Map<Language, String> templates = new EnumMap<>(Language.class);
    Map<Language, Boolean> configured = new EnumMap<>(Language.class);
    for (ProviderSettings.Runtime runtime : context.settings().runtimes().values()) {
      boolean named = runtime.template() != null && !runtime.template().isBlank();
      templates.put(runtime.language(), named ? runtime.template() : defaultTemplate);
      configured.put(runtime.language(), named);
    }
    return new AliyunSettings(
        region,
        controlEndpoint(spec.getControlEndpoint(), region),
        dataEndpoint(spec.getDataEndpoint(), region, credentials.accountId()),
        credentials,
        templates,
        configured,
        egress);
  }

  /** The networkMode the operator creates its own template with. */
  public String defaultNetworkMode() {
    return egress == AliyunEgress.INTERNET ? "PUBLIC" : "PRIVATE";
  }

  /**
   * host[:port] or http(s)://host[:port]; default agentrun.&lt;region&gt;.aliyuncs.com over HTTPS.
   */
  static URI controlEndpoint(String override, String region) {
    if (override == null || override.isBlank()) {
      return URI.create("https://agentrun." + region + ".aliyuncs.com");
    }
    URI uri =
        parse(
            override.contains("://") ? override : "https://" + override,
            "spec.aliyun.controlEndpoint");
    if (uri.getRawPath() != null && !uri.getRawPath().isEmpty() && !uri.getRawPath().equals("/")) {
      throw new IllegalArgumentException(
          "spec.aliyun.controlEndpoint must not have a path: " + override);
    }
    return URI.create(uri.getScheme() + "://" + uri.getRawAuthority());
  }

  /**
   * A base URL, or the account's RAM-signature host
   * https://&lt;accountId&gt;-ram.agentrun-data.&lt;region&gt;.aliyuncs.com (the official SDK signs
   * data-plane calls for that host).
   */
  static URI dataEndpoint(String override, String region, String accountId) {
    if (override == null || override.isBlank()) {
      String account = accountId == null ? "" : accountId.trim();
      if (!ACCOUNT_ID.matcher(account).matches()) {
        // The value comes from a Secret: the message must not show it.
        throw new IllegalArgumentException(
            "the accountId key of the credentials Secret is not an Aliyun account id"
                + " (the account's numeric UID); fix the Secret or set spec.aliyun.dataEndpoint");
      }
      return URI.create(
          "https://"
              + account.toLowerCase(Locale.ROOT)
              + "-ram.agentrun-data."
              + region
              + ".aliyuncs.com");
    }
    String value = override.endsWith("/") ? override.substring(0, override.length() - 1) : override;
    return parse(value.contains("://") ? value : "https://" + value, "spec.aliyun.dataEndpoint");
  }

  private static URI parse(String value, String field) {
    try {
      URI uri = new URI(value);
      String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
      if (!scheme.equals("https") && !scheme.equals("http") || uri.getHost() == null) {
        throw new IllegalArgumentException(
            field + " must be host[:port] or an http(s) URL: " + value);
      }
      return uri;
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException(field + " is not a valid URL: " + value);
    }
  }
}
