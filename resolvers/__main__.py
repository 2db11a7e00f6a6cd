"""`python -m resolvers` rewrites schema/schema.graphql (the SDL clients read) from the code."""

from pathlib import Path

from resolvers.schema import export_sdl

if __name__ == "__main__":
    path = Path(__file__).parent.parent / "schema" / "schema.graphql"
    path.write_text(export_sdl())
    print(f"wrote {path}")
