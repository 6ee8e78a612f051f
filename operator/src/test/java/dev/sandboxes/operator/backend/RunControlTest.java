package dev.sandboxes.operator.backend;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** When a run's outcome counts as stored, for the backends that clean up after it. */
@Tag("unit")
class RunControlTest {

  @Test
  void aControlWhoseCallerTakesTheOutcomeDirectlyIsStoredFromTheStart() {
    assertThat(RunControl.detached().outcomeStored()).isCompleted();
    assertThat(new RunControl(id -> {}).outcomeStored()).isCompleted();
  }

  @Test
  void aControlStoredLaterCompletesOnlyWhenItsCallerSaysSo() {
    RunControl control = RunControl.storedLater(id -> {});
    var seenByBackend = control.outcomeStored();
    assertThat(seenByBackend).isNotDone();

    control.markOutcomeStored();

    assertThat(seenByBackend).isCompleted();
    assertThat(control.outcomeStored()).isCompleted();
  }

  @Test
  void aBackendCannotCompleteTheSignalForEveryoneElse() {
    RunControl control = RunControl.storedLater(id -> {});
    control.outcomeStored().complete(null); // a backend's own wait, e.g. its timeout

    assertThat(control.outcomeStored()).isNotDone();
  }
}
