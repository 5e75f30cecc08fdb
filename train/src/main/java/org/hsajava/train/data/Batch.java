package org.hsajava.train.data;

/**
 * A batch of packed sequences in one flat row-major array {@code tokens[size][length + 1]}: row r
 * holds {@code length + 1} consecutive stream tokens; its inputs are elements {@code 0..length-1}
 * and its next-token targets elements {@code 1..length}.
 */
public record Batch(int size, int length, int[] tokens) {

    public Batch {
        if (tokens.length != (long) size * (length + 1)) {
            throw new IllegalArgumentException("batch of " + size + " x (" + length + " + 1) needs "
                    + (long) size * (length + 1) + " tokens, got " + tokens.length);
        }
    }

    public int rowStride() {
        return length + 1;
    }

    public int input(int row, int t) {
        return tokens[row * (length + 1) + t];
    }

    public int target(int row, int t) {
        return tokens[row * (length + 1) + t + 1];
    }

    /** A copy of row r ({@code length + 1} tokens). */
    public int[] row(int row) {
        int[] copy = new int[length + 1];
        System.arraycopy(tokens, row * (length + 1), copy, 0, length + 1);
        return copy;
    }
}
