"""`python -m bench.triage [--wrong]`: the rules engine's quality table (and, with --wrong,
the ids of the messages it got wrong, per split and language)."""

import sys

from bench.triage import measure, table


def main(argv: list[str]) -> int:
    results = measure()
    print(table(results))
    if "--wrong" in argv:
        for split, languages in results["evaluation"].items():
            for language, figures in languages.items():
                if language != "all" and figures["wrong"]:
                    print(split, language, " ".join(figures["wrong"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
