package org.hsajava.eval.report;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One cell of a report: a task at one context length (and, for the retrieval tasks, one needle
 * depth and one sampling seed). Fields that do not apply are absent from the JSON:
 * <ul>
 *   <li>retrieval tasks: {@code depth}, {@code seed}, {@code samples}, {@code correct},
 *       {@code accuracy} (exact match), {@code answerTokens}, {@code answerTokensCorrect},
 *       {@code answerTokenAccuracy}, and, when the scorer can tell, {@code needleChunkSelected} and
 *       {@code needleChunkWeight} (per answer token: is the chunk holding its copy in the needle
 *       selected where it is predicted, and the weight it gets there; {@code TeacherForcedEval.Cell});</li>
 *   <li>{@code ppl}: {@code samples} (windows), {@code tokens} scored, {@code meanNll} (nats), {@code perplexity};</li>
 *   <li>every cell that ran: {@code seconds} and {@code peakMemoryBytes} (device bytes held by the scorer);</li>
 *   <li>a cell that did not run: {@code status} "not_run" and {@code note} saying why.</li>
 * </ul>
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CellResult(String task, int length, Double depth, Long seed, String status, String note,
                         Integer samples, Integer correct, Double accuracy,
                         Integer answerTokens, Integer answerTokensCorrect, Double answerTokenAccuracy, Double needleChunkSelected,
                         Double needleChunkWeight, Long tokens, Double meanNll, Double perplexity,
                         Double seconds, Long peakMemoryBytes) {
    public static final String OK = "ok";
    public static final String NOT_RUN = "not_run";

    public static CellResult accuracy(String task, int length, double depth, long seed, int samples, int correct,
                                      int answerTokens, int answerTokensCorrect, Double needleChunkSelected, Double needleChunkWeight,
                                      double seconds, long peakBytes) {
        return new CellResult(task, length, depth, seed, OK, null, samples, correct, ratio(correct, samples),
                answerTokens, answerTokensCorrect, ratio(answerTokensCorrect, answerTokens), needleChunkSelected, needleChunkWeight, null, null, null, seconds, peakBytes);
    }

    public static CellResult perplexity(int length, int sequences, long tokens, double meanNll, double seconds, long peakBytes) {
        return new CellResult("ppl", length, null, null, OK, null, sequences, null, null, null, null, null, null, null,
                tokens, meanNll, Math.exp(meanNll), seconds, peakBytes);
    }

    public static CellResult notRun(String task, int length, Double depth, Long seed, String note) {
        return new CellResult(task, length, depth, seed, NOT_RUN, note, null, null, null, null, null, null, null, null, null, null, null, null, null);
    }

    @JsonIgnore
    public boolean ran() { return OK.equals(status); }

    private static double ratio(int a, int b) { return b == 0 ? 0 : (double) a / b; }
}
