package dev.sandboxes.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Size;
import java.util.List;

/** Network egress of sandbox pods. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class EgressSpec {

  @JsonPropertyDescription(
      "Deny (default) blocks all egress; AllowList allows egress to allowedCidrs only.")
  private EgressPolicy policy;

  @JsonPropertyDescription("CIDRs sandboxes may reach when policy is AllowList, e.g. 10.0.0.0/8.")
  @Size(max = 64)
  private List<String> allowedCidrs;

  public EgressPolicy getPolicy() {
    return policy;
  }

  public void setPolicy(EgressPolicy policy) {
    this.policy = policy;
  }

  public List<String> getAllowedCidrs() {
    return allowedCidrs;
  }

  public void setAllowedCidrs(List<String> allowedCidrs) {
    this.allowedCidrs = allowedCidrs;
  }
}
