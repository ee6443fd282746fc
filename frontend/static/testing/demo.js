// The infrastructure test page (frontend/testing/demo.html): connect the live module, show its state.
import { connectLive, pageData, showState } from "../live.js";

connectLive({ rooms: ["system-status"], onState: showState(document.querySelector(".live-state"), pageData("live-texts")) });
