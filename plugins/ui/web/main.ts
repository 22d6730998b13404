/** Entry point of the dashboard bundle. */
import { render } from "preact";
import { html } from "htm/preact";
import { App } from "./app.ts";
import "./styles.css";

document.documentElement.dataset.theme = localStorage.getItem("gantry.theme") ?? (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
const root = document.getElementById("app")!;
root.textContent = ""; // the "Loading" placeholder: render() adds to what is there
render(html`<${App} />`, root);
