package dev.sandboxes.api.v1alpha1;

import dev.sandboxes.api.ApiConstants;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/** What runs: one execution of Python or JavaScript code, with its outcome in the status. */
@Group(ApiConstants.GROUP)
@Version(ApiConstants.VERSION)
@ShortNames("cx")
@AdditionalPrinterColumn(
    name = "Provider",
    jsonPath = ".status.sandbox.provider",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Language",
    jsonPath = ".spec.language",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Phase",
    jsonPath = ".status.phase",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Exit",
    jsonPath = ".status.exitCode",
    type = AdditionalPrinterColumn.Type.INTEGER)
@AdditionalPrinterColumn(
    name = "Duration",
    jsonPath = ".status.duration",
    type = AdditionalPrinterColumn.Type.STRING)
@AdditionalPrinterColumn(
    name = "Age",
    jsonPath = ".metadata.creationTimestamp",
    type = AdditionalPrinterColumn.Type.DATE)
public class CodeExecution extends CustomResource<CodeExecutionSpec, CodeExecutionStatus>
    implements Namespaced {

  @Override
  protected CodeExecutionStatus initStatus() {
    return new CodeExecutionStatus();
  }
}
