"""`python -m schema` rewrites schema/schema.graphql from the code."""

from pathlib import Path

from schema.schema import export_sdl

if __name__ == "__main__":
    path = Path(__file__).with_name("schema.graphql")
    path.write_text(export_sdl())
    print(f"wrote {path}")
