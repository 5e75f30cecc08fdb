package org.hsajava.train.tasks;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/** Random keys and values for needles. */
final class RandomText {

    /** Common, short, single-word keys (RULER draws its NIAH keys from a word list too). */
    private static final String[] WORDS = {
        "apple", "river", "stone", "cloud", "tiger", "maple", "anchor", "lantern", "violet", "harbor",
        "copper", "meadow", "falcon", "candle", "marble", "orchard", "pepper", "saddle", "thunder", "willow",
        "basket", "cactus", "dolphin", "ember", "feather", "garden", "hollow", "island", "jacket", "kettle",
        "ladder", "mirror", "needle", "oyster", "pebble", "quartz", "rocket", "silver", "tunnel", "umbrella",
        "valley", "walnut", "yellow", "zephyr", "bridge", "castle", "desert", "forest", "glacier", "hammer",
        "igloo", "jungle", "kitten", "lemon", "mango", "nectar", "ocean", "pirate", "quiver", "rabbit",
    };

    private RandomText() {
    }

    /** {@code count} random decimal digits, the first not 0 (so the number has exactly that many digits). */
    static String digits(int count, SplittableRandom rng) {
        StringBuilder s = new StringBuilder(count);
        s.append((char) ('1' + rng.nextInt(9)));
        for (int i = 1; i < count; i++) {
            s.append((char) ('0' + rng.nextInt(10)));
        }
        return s.toString();
    }

    /** {@code count} different numbers of {@code digitCount} digits. */
    static List<String> distinctDigits(int count, int digitCount, SplittableRandom rng) {
        Set<String> values = new LinkedHashSet<>();
        while (values.size() < count) {
            values.add(digits(digitCount, rng));
        }
        return new ArrayList<>(values);
    }

    /** {@code count} different words from the key list. */
    static List<String> distinctWords(int count, SplittableRandom rng) {
        if (count > WORDS.length) {
            throw new IllegalArgumentException("at most " + WORDS.length + " distinct keys, asked for " + count);
        }
        Set<String> words = new LinkedHashSet<>();
        while (words.size() < count) {
            words.add(WORDS[rng.nextInt(WORDS.length)]);
        }
        return new ArrayList<>(words);
    }

    /** {@code count} different names of five capital letters (variable tracking, as in RULER). */
    static List<String> distinctNames(int count, SplittableRandom rng) {
        Set<String> names = new LinkedHashSet<>();
        while (names.size() < count) {
            StringBuilder s = new StringBuilder(5);
            for (int i = 0; i < 5; i++) {
                s.append((char) ('A' + rng.nextInt(26)));
            }
            names.add(s.toString());
        }
        return new ArrayList<>(names);
    }

    /** "a", "a and b", "a, b and c". */
    static String listed(List<String> items) {
        if (items.size() == 1) {
            return items.getFirst();
        }
        return String.join(", ", items.subList(0, items.size() - 1)) + " and " + items.getLast();
    }
}
