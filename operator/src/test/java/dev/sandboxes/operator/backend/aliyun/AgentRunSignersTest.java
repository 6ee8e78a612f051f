package dev.sandboxes.operator.backend.aliyun;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Known answers for both signatures. The expected values were computed once by a separate Python
 * rendition of the two recipes (Alibaba Cloud's ACS3-HMAC-SHA256 request signature, and AGENTRUN4
 * as the official Python SDK's signer.py implements it; docs/providers/aliyun.md cites both): a
 * third implementation next to the production signers and the fake's verifiers.
 */
@Tag("unit")
class AgentRunSignersTest {

  private static final Clock FIXED =
      Clock.fixed(Instant.parse("2026-01-02T03:04:05Z"), ZoneOffset.UTC);
  private static final AliyunCredentials CREDENTIALS =
      new AliyunCredentials("AKID", "SECRET", "1234567890123456");

  @Test
  void acs3WithoutABody() {
    Acs3Signer signer =
        new Acs3Signer(CREDENTIALS, FIXED, () -> "00112233445566778899aabbccddeeff");
    Map<String, String> query = new LinkedHashMap<>();
    query.put("pageSize", "1");
    query.put("pageNumber", "1");
    Map<String, String> headers =
        signer.sign(
            "ListTemplates",
            "GET",
            "agentrun.cn-hangzhou.aliyuncs.com",
            "/2025-09-10/templates",
            query,
            null);
    assertThat(headers.get("x-acs-content-sha256"))
        .isEqualTo("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assertThat(headers.get("authorization"))
        .isEqualTo(
            "ACS3-HMAC-SHA256 Credential=AKID,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;"
                + "x-acs-version,Signature=bd647bc941077bd2fb7140b767c23022f299c2bad6abf61de7c2f88e41a23a42");
  }

  @Test
  void acs3HashesTheJsonBody() {
    Acs3Signer signer =
        new Acs3Signer(CREDENTIALS, FIXED, () -> "00112233445566778899aabbccddeeff");
    Map<String, String> headers =
        signer.sign(
            "CreateSandbox",
            "POST",
            "agentrun.cn-hangzhou.aliyuncs.com",
            "/2025-09-10/sandboxes",
            Map.of(),
            "{\"templateName\":\"t\"}".getBytes(StandardCharsets.UTF_8));
    assertThat(headers.get("authorization"))
        .isEqualTo(
            "ACS3-HMAC-SHA256 Credential=AKID,SignedHeaders=content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;"
                + "x-acs-signature-nonce;x-acs-version,Signature=4b2ae75ecace0d03c0f8cc48aebdcff571192cf5115f8e4a435603b64da75fc0");
  }

  @Test
  void agentRun4() {
    AgentRunDataSigner signer = new AgentRunDataSigner(CREDENTIALS, "cn-hangzhou", FIXED);
    Map<String, String> headers =
        signer.sign(
            "POST",
            "1234567890123456-ram.agentrun-data.cn-hangzhou.aliyuncs.com",
            "/sandboxes/sbx-1/processes/cmd",
            Map.of());
    assertThat(headers)
        .containsEntry("x-acs-date", "2026-01-02T03:04:05Z")
        .containsEntry("x-acs-content-sha256", "UNSIGNED-PAYLOAD");
    assertThat(headers.get("Agentrun-Authorization"))
        .isEqualTo(
            "AGENTRUN4-HMAC-SHA256 Credential=AKID/20260102/cn-hangzhou/agentrun/aliyun_v4_request,"
                + "SignedHeaders=host;x-acs-content-sha256;x-acs-date,"
                + "Signature=4b4635141e26ac84ed1c69141a43708fbc86203c7c6907c76b5faa69e318df89");
  }

  @Test
  void credentialsNeverPrint() {
    assertThat(CREDENTIALS.toString()).doesNotContain("AKID").doesNotContain("SECRET");
    assertThat(
            new AliyunSettings("cn-hangzhou", null, null, CREDENTIALS, Map.of(), Map.of(), null)
                .toString())
        .doesNotContain("SECRET");
  }

  @Test
  void endpointsDefaultToTheRegionAndTheAccountsRamHost() {
    assertThat(AliyunSettings.controlEndpoint(null, "cn-beijing").toString())
        .isEqualTo("https://agentrun.cn-beijing.aliyuncs.com");
    assertThat(AliyunSettings.controlEndpoint("127.0.0.1:8080", "x").toString())
        .isEqualTo("https://127.0.0.1:8080");
    assertThat(AliyunSettings.controlEndpoint("http://127.0.0.1:8080/", "x").toString())
        .isEqualTo("http://127.0.0.1:8080");
    assertThat(AliyunSettings.dataEndpoint(null, "cn-beijing", "1234567890123456").toString())
        .isEqualTo("https://1234567890123456-ram.agentrun-data.cn-beijing.aliyuncs.com");
    assertThat(AliyunSettings.dataEndpoint("http://127.0.0.1:9/base/", "x", "1").toString())
        .isEqualTo("http://127.0.0.1:9/base");
    assertThat(
            org.assertj.core.api.Assertions.catchThrowable(
                () -> AliyunSettings.dataEndpoint(null, "cn-hangzhou", "oops/secret value")))
        .hasMessageContaining("accountId")
        .hasMessageNotContaining("secret value");
    assertThat(AgentRunHttp.hostHeader(java.net.URI.create("https://a.example:443")))
        .isEqualTo("a.example");
    assertThat(AgentRunHttp.hostHeader(java.net.URI.create("http://127.0.0.1:8080")))
        .isEqualTo("127.0.0.1:8080");
  }

  @Test
  void theCommandCarriesNoRequestDataAndKeepsTheRunnersArgv() {
    String python = AgentRunCommand.command(dev.sandboxes.api.v1alpha1.Language.PYTHON, 65536);
    assertThat(python)
        .startsWith("sh -c '")
        .endsWith("'")
        .contains("python3 -X utf8 -c \"$(cat runner.py)\" >o 2>r")
        .contains("rm -f envelope.json")
        .doesNotContain("exit-code");
    assertThat(python.substring(7, python.length() - 1)).doesNotContain("'");
    assertThat(AgentRunCommand.command(dev.sandboxes.api.v1alpha1.Language.JAVASCRIPT, 65536))
        .contains("node -e \"$(cat runner.js)\"");
    assertThat(AgentRunCommand.maxAnswerBytes(262144)).isLessThan(4L * 1024 * 1024);
  }
}
