package dev.sandboxes.operator.backend.aliyun;

import dev.sandboxes.api.v1alpha1.Language;
import dev.sandboxes.operator.runner.ArtifactLimits;
import dev.sandboxes.operator.runner.RunnerProgram;
import dev.sandboxes.operator.runner.RunnerStreams;
import java.util.List;

/**
 * The one shell command an Aliyun execution sends. It runs the runner with the envelope on stdin
 * and bounds what comes back inside the sandbox, because AgentRun returns a command's whole output
 * in one JSON answer:
 *
 * <ul>
 *   <li>The envelope (it holds the nonce that authenticates the runner's records) is read into the
 *       shell's memory and its file deleted before the runner starts; it reaches the runner through
 *       a pipe. No file or descriptor with the nonce is left for the code to open.
 *   <li>The exit code stays in a shell variable, never in a file the code could rewrite.
 *   <li>stdout and stderr go through FIFOs into {@code base64 | awk}: the first {@code head} bytes,
 *       the last {@code tail} bytes of stdout (where the runner's records are), and the total
 *       count, as ASCII lines the service cannot mangle. Nothing else is kept, so the answer stays
 *       small whatever the code prints.
 * </ul>
 *
 * <p>Output lines (stdout of the command): {@code h <base64>} (head), {@code t <base64>} (tail),
 * {@code n <total bytes>}, then {@code x <exit code>}. stderr of the command: {@code h} lines and
 * {@code n}. Nothing from the request is in the command: code and arguments are data.
 */
final class AgentRunCommand {

  /** Exit code of the command when the shell could not set the run up (no FIFO, no envelope). */
  static final int SETUP_FAILED = 97;

  /**
   * Room for the runner's records at the end of stdout: the largest kept result and the done
   * record.
   */
  static final int TAIL_BYTES = RunnerStreams.MAX_RESULT_BYTES + 64 * 1024;

  /** Added to the output cap so that the head always covers the kept user output. */
  private static final int HEAD_SLACK = 4096;

  /** The awk program: keeps the head lines, a ring of tail lines, and counts the decoded bytes. */
  private static final String CAPPER =
      "{n=length(\\$0);b=n/4*3;if(substr(\\$0,n,1)==\\\"=\\\")b--;if(substr(\\$0,n-1,1)==\\\"=\\\")b--;s+=b;"
          + "if(k<H){print \\\"h \\\" \\$0;k+=b;next}if(T>0){r[c%T]=\\$0;c++}}"
          + "END{f=c>T?c-T:0;for(i=f;i<c;i++)print \\\"t \\\" r[i%T];print \\\"n \\\" s+0}";

  private AgentRunCommand() {}

  /**
   * Room the runner's artifact records take at the end of stdout, before the done record: the files
   * in base64 records (4,000 characters for 3,000 bytes, plus a 42-byte header), a header record
   * per file and the record of what was left out (docs/runner-protocol.md, "Artifacts").
   */
  static long artifactRecordBytes(ArtifactLimits limits) {
    if (limits == null) {
      return 0;
    }
    long dataRecords = (limits.maxArtifactBytes() + 2999) / 3000;
    return dataRecords * (4000 + 42) + limits.maxArtifacts() * (1100L + 42) + 16 * 1024;
  }

  /** Bytes of stdout kept at the end: the records, including artifacts up to the limits. */
  static long tailBytes(ArtifactLimits limits) {
    return TAIL_BYTES + artifactRecordBytes(limits);
  }

  /** Bytes of stdout kept from the start. */
  static int headBytes(int maxOutputBytes) {
    return maxOutputBytes + HEAD_SLACK;
  }

  /** The largest answer such a command can produce, with room for the service's JSON around it. */
  static long maxAnswerBytes(int maxOutputBytes) {
    return maxAnswerBytes(maxOutputBytes, null);
  }

  /** The largest answer a command for these limits can produce. */
  static long maxAnswerBytes(int maxOutputBytes, ArtifactLimits artifacts) {
    long kept = 2L * headBytes(maxOutputBytes) + tailBytes(artifacts);
    return kept * 2 + 64 * 1024; // base64 (4/3), line prefixes and JSON escaping stay well below 2x
  }

  /**
   * The command for one run.
   *
   * @param maxOutputBytes the provider's cap per stream; the command keeps a little more
   */
  static String command(Language language, int maxOutputBytes) {
    return command(language, maxOutputBytes, null);
  }

  /**
   * The command for one run whose runner may send artifacts up to {@code artifacts}: the tail kept
   * grows by their records, so that they never push the result out of it.
   */
  static String command(Language language, int maxOutputBytes, ArtifactLimits artifacts) {
    List<String> argv = RunnerProgram.command(language);
    String interpreter = String.join(" ", argv.subList(0, argv.size() - 1));
    int head = headBytes(maxOutputBytes);
    // base64 lines carry 57 bytes each; one more line so that the ring never cuts into TAIL_BYTES.
    long tailLines = tailBytes(artifacts) / 57 + 2;
    String script =
        // The request's cwd is the work directory; cd there too in case the service ignores cwd.
        "{ [ -f envelope.json ] || cd "
            + AgentRunExecution.WORK_DIR
            + "; } || exit "
            + SETUP_FAILED
            + "; "
            + "for t in base64 awk mkfifo; do command -v $t >/dev/null || { echo \"the sandbox has no $t\" >&2; exit "
            + SETUP_FAILED
            + "; }; done; "
            + "e=$(cat envelope.json) && rm -f envelope.json || exit "
            + SETUP_FAILED
            + "; "
            + "rm -f o r && mkfifo o r || exit "
            + SETUP_FAILED
            + "; "
            + "base64 <o | awk -v H="
            + head
            + " -v T="
            + tailLines
            + " \""
            + CAPPER
            + "\" & "
            + "base64 <r | awk -v H="
            + head
            + " -v T=0 \""
            + CAPPER
            + "\" >&2 & "
            + "printf \"%s\\n\" \"$e\" | "
            + interpreter
            + " \"$(cat "
            + runnerFile(language)
            + ")\" >o 2>r; "
            + "c=$?; e=; wait; echo \"x $c\"";
    if (script.indexOf('\'') >= 0) {
      throw new IllegalStateException("the command must not contain a single quote");
    }
    // sh -c '…' works whether the service runs the command through a shell or splits it into
    // arguments the shell's way.
    return "sh -c '" + script + "'";
  }

  static String runnerFile(Language language) {
    return language == Language.PYTHON ? "runner.py" : "runner.js";
  }
}
