/** Entry point of the dashboard bundle. */
import { render } from "preact";
import { html } from "htm/preact";
import { App } from "./app.ts";
import "./styles.css";

document.documentElement.dataset.theme = localStorage.getItem("gantry.theme") ?? (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
render(html`<${App} />`, document.getElementById("app")!);
